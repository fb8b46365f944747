use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("KSCEN_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = kscen::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(kscen::exit::EXIT_ERROR);
        }
    };
    match runtime.block_on(kscen::cli::execute(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(kscen::exit::EXIT_ERROR)
        }
    }
}

//! Ctrl-C (SIGINT), heard once for the whole process. Once tokio has handled SIGINT, a signal
//! that arrives while no `ctrl_c()` future is waiting is lost: a campaign interrupted while its
//! next step was preparing ran that step to its end. Every wait that Ctrl-C must end watches this
//! one flag instead, which stays raised.

use std::future::Future;
use std::sync::OnceLock;

use tokio::sync::watch;

static INTERRUPTED: OnceLock<watch::Receiver<bool>> = OnceLock::new();

/// Starts listening, if nothing has yet: from now on, a Ctrl-C is kept until someone asks.
/// Needs a tokio runtime.
pub fn listen() {
    flag();
}

/// Resolves once the operator has pressed Ctrl-C, now or earlier in this process.
pub async fn interrupted() {
    raised(flag().clone()).await
}

fn flag() -> &'static watch::Receiver<bool> {
    INTERRUPTED.get_or_init(|| raised_by(tokio::signal::ctrl_c()))
}

/// A flag raised for good when `signal` resolves; never, if it fails (no handler installed).
fn raised_by(
    signal: impl Future<Output = std::io::Result<()>> + Send + 'static,
) -> watch::Receiver<bool> {
    let (raise, flag) = watch::channel(false);
    tokio::spawn(async move {
        if signal.await.is_ok() {
            raise.send_replace(true);
        }
        // Kept, so a raised flag is read as raised and an unraised one as pending, not closed.
        std::future::pending::<()>().await;
    });
    flag
}

async fn raised(mut flag: watch::Receiver<bool>) {
    if flag.wait_for(|raised| *raised).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_signal_before_anyone_waits_is_heard_by_every_later_waiter() {
        let flag = raised_by(async { Ok(()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(5), raised(flag.clone()))
                .await
                .expect("the earlier signal is kept");
        }
    }

    #[tokio::test]
    async fn no_signal_or_a_failed_handler_raises_nothing() {
        let never = raised_by(std::future::pending());
        let failed = raised_by(async { Err(std::io::Error::other("no handler")) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        for flag in [never, failed] {
            assert!(
                tokio::time::timeout(Duration::from_millis(100), raised(flag))
                    .await
                    .is_err()
            );
        }
    }
}

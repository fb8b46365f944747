//! The zero-setup default: librdkafka's in-process mock cluster. It is `!Send`, so it lives on
//! a thread of its own and takes requests over a channel.

use std::sync::mpsc;
use std::thread;

use anyhow::{Context, Result};
use rdkafka::mocking::MockCluster;

use crate::error::{HostError, HostResult};

enum Request {
    CreateTopic {
        topic: String,
        partitions: i32,
        reply: mpsc::Sender<HostResult<()>>,
    },
    Shutdown,
}

pub struct EmbeddedCluster {
    bootstrap_servers: String,
    requests: mpsc::Sender<Request>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EmbeddedCluster {
    pub fn start(brokers: i32) -> Result<EmbeddedCluster> {
        let (requests, inbox) = mpsc::channel();
        let (ready, started) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("kscen-mock-cluster".into())
            .spawn(move || {
                let cluster = match MockCluster::new(brokers) {
                    Ok(cluster) => cluster,
                    Err(error) => {
                        let _ = ready.send(Err(error.to_string()));
                        return;
                    }
                };
                let _ = ready.send(Ok(cluster.bootstrap_servers()));
                for request in inbox {
                    match request {
                        Request::CreateTopic {
                            topic,
                            partitions,
                            reply,
                        } => {
                            let result = cluster.create_topic(&topic, partitions, 1).map_err(|e| {
                                HostError::Kafka(format!(
                                    "creating {topic} on the embedded cluster: {e}"
                                ))
                            });
                            let _ = reply.send(result);
                        }
                        Request::Shutdown => break,
                    }
                }
            })
            .context("cannot start the embedded mock cluster thread")?;
        let bootstrap_servers = started
            .recv()
            .context("the embedded mock cluster thread died")?
            .map_err(|e| anyhow::anyhow!("cannot start librdkafka's mock cluster: {e}"))?;
        Ok(EmbeddedCluster {
            bootstrap_servers,
            requests,
            thread: Some(thread),
        })
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) -> HostResult<()> {
        let (reply, answer) = mpsc::channel();
        self.requests
            .send(Request::CreateTopic {
                topic: topic.into(),
                partitions,
                reply,
            })
            .map_err(|_| HostError::Kafka("the embedded cluster has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| HostError::Kafka("the embedded cluster has stopped".into()))?
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

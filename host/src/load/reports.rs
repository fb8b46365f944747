//! Waiting for delivery reports without spinning.
//!
//! rdkafka's `BaseProducer::poll(timeout)` truncates the time left to whole milliseconds, so its
//! last millisecond is a busy loop — every call, however short. A job thread that waited that way
//! burned a core (50 µs of CPU per 10 KiB record on the bench, waiting for room in a full queue),
//! taken from librdkafka's own threads and the broker. Instead, librdkafka writes a byte to a pipe
//! when a report (or any event) lands on the producer's empty event queue; the job thread sleeps
//! in `ppoll` on that pipe, with a nanosecond timeout, while it waits for the next record to be
//! due or for the final acknowledgements, and serves what arrived with zero-timeout polls. (A full
//! queue is waited out with a plain short pause instead: see `QUEUE_FULL_PAUSE` in `job.rs`.)

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::producer::{BaseProducer, Producer, ProducerContext};

/// A wake-up pipe on a producer's event queue. Drop it before the producer.
pub struct ReportSignal {
    queue: *mut rdsys::rd_kafka_queue_t,
    read: OwnedFd,
    /// Kept open for librdkafka, which writes to it.
    _write: OwnedFd,
}

// SAFETY: the queue handle is a reference-counted librdkafka object, safe to use from any
// thread; the job thread is the only user.
unsafe impl Send for ReportSignal {}

impl ReportSignal {
    pub fn new<C: ProducerContext>(producer: &BaseProducer<C>) -> std::io::Result<ReportSignal> {
        let mut fds = [0; 2];
        // Non-blocking on both ends: librdkafka's write must never block when the pipe is full.
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are open descriptors that nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the producer's client is alive for this call; get_main returns a new reference
        // to the queue BaseProducer polls, released in Drop. The payload is copied by librdkafka.
        let queue = unsafe {
            let queue = rdsys::rd_kafka_queue_get_main(producer.client().native_ptr());
            rdsys::rd_kafka_queue_io_event_enable(
                queue,
                write.as_raw_fd(),
                b"1".as_ptr().cast(),
                1,
            );
            queue
        };
        Ok(ReportSignal {
            queue,
            read,
            _write: write,
        })
    }

    /// Events (delivery reports, logs, errors) waiting to be served.
    pub fn waiting(&self) -> usize {
        // SAFETY: the queue reference is valid until Drop.
        unsafe { rdsys::rd_kafka_queue_length(self.queue) }
    }

    /// Sleeps until an event lands on the queue or `timeout` passes. The caller serves what is
    /// queued first: librdkafka only signals an arrival on a queue it saw served since.
    pub fn wait(&self, timeout: Duration) {
        self.drain();
        if self.waiting() > 0 {
            return;
        }
        let mut pollfd = libc::pollfd {
            fd: self.read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask. An interruption (EINTR)
        // just ends the wait early, which callers handle like a wake-up.
        unsafe {
            libc::ppoll(&mut pollfd, 1, &timeout, std::ptr::null());
        }
    }

    /// Empties the pipe, so the next wait sleeps until a new arrival.
    fn drain(&self) {
        let mut buffer = [0u8; 64];
        // SAFETY: reads into a local buffer of the given length from our own non-blocking fd.
        while unsafe {
            libc::read(
                self.read.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        } > 0
        {}
    }
}

impl Drop for ReportSignal {
    fn drop(&mut self) {
        // SAFETY: stops librdkafka writing to the pipe before its descriptors close (after this
        // body), then releases the queue reference taken in `new`.
        unsafe {
            rdsys::rd_kafka_queue_io_event_enable(self.queue, -1, std::ptr::null(), 0);
            rdsys::rd_kafka_queue_destroy(self.queue);
        }
    }
}

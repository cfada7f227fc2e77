//! A tiny HTTP/1.1 server on 127.0.0.1:0 that replays canned responses.
//!
//! Each test gives a handler from request target (path and query) to a
//! [`Reply`]; the server logs every request with its User-Agent into a shared
//! [`Log`], which the fake clock writes its sleeps to as well, so tests can
//! check what happened between two requests.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paperhub_arxiv::Clock;

/// What the server sends.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send only this many body bytes, then drop the connection.
    pub cut_after: Option<usize>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/xml; charset=utf-8".into())],
            body: body.into(),
            cut_after: None,
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: format!("status {status}").into_bytes(),
            cut_after: None,
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A request arrived: target, User-Agent, and when (real time).
    Request(String, String, Instant),
    /// The fake clock slept.
    Sleep(Duration),
}

pub type Log = Arc<Mutex<Vec<Event>>>;

/// A running replay server.
pub struct Server {
    pub base: String,
    pub log: Log,
}

impl Server {
    pub fn start(handler: impl Fn(&str, usize) -> Reply + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log: Log = Arc::default();
        let server_log = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut count = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let target = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                let mut user_agent = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(ua) = line.to_ascii_lowercase().strip_prefix("user-agent:") {
                        user_agent = ua.trim().to_owned();
                    }
                }
                server_log.lock().unwrap().push(Event::Request(
                    target.clone(),
                    user_agent,
                    Instant::now(),
                ));
                let reply = handler(&target, count);
                count += 1;
                std::thread::sleep(reply.delay);
                let mut head = format!(
                    "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (k, v) in &reply.headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let body = match reply.cut_after {
                    Some(n) => &reply.body[..n.min(reply.body.len())],
                    None => &reply.body[..],
                };
                let _ = stream.write_all(body);
                let _ = stream.flush();
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        });
        Server { base, log }
    }

    /// Real time between consecutive requests.
    pub fn real_gaps(&self) -> Vec<Duration> {
        let times: Vec<Instant> = self
            .log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Request(_, _, at) => Some(*at),
                Event::Sleep(_) => None,
            })
            .collect();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Request targets in order.
    pub fn requests(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Request(t, _, _) => Some(t.clone()),
                Event::Sleep(_) => None,
            })
            .collect()
    }
}

/// A clock whose time moves only when the client sleeps; sleeps are logged.
pub struct FakeClock {
    start: Instant,
    elapsed: Mutex<Duration>,
    log: Log,
}

impl FakeClock {
    pub fn new(log: &Log) -> Arc<FakeClock> {
        Arc::new(FakeClock {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
            log: Arc::clone(log),
        })
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) {
        *self.elapsed.lock().unwrap() += duration;
        self.log.lock().unwrap().push(Event::Sleep(duration));
    }
}

/// Fake time slept between each pair of consecutive requests.
pub fn gaps(log: &Log) -> Vec<Duration> {
    let mut gaps = Vec::new();
    let mut current: Option<Duration> = None;
    for event in log.lock().unwrap().iter() {
        match event {
            Event::Request(..) => {
                if let Some(gap) = current {
                    gaps.push(gap);
                }
                current = Some(Duration::ZERO);
            }
            Event::Sleep(d) => {
                if let Some(gap) = current.as_mut() {
                    *gap += *d;
                }
            }
        }
    }
    gaps
}

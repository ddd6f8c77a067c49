//! Real workers for `--workers`: `seslog worker --listen 127.0.0.1:0` processes of the binary
//! under test, each on a port of its own, stopped when the value is dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

pub struct Workers {
    children: Vec<Child>,
    /// `127.0.0.1:PORT` of each, as the workers printed it.
    pub addresses: Vec<String>,
}

impl Workers {
    /// `n` workers with the test environment and `env` (e.g. S3 credentials).
    pub fn start(n: usize, env: &[(&str, &str)]) -> Self {
        let mut children = Vec::new();
        let mut addresses = Vec::new();
        for _ in 0..n {
            let args = ["worker", "--listen", "127.0.0.1:0"].map(String::from);
            let mut child = super::command(&args, false, env)
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn seslog worker");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .expect("the worker's address");
            let address = line
                .trim()
                .strip_prefix("seslog worker listening on ")
                .unwrap_or_else(|| panic!("the worker printed {line:?}"))
                .to_string();
            children.push(child);
            addresses.push(address);
        }
        Workers {
            children,
            addresses,
        }
    }

    /// The value of `--workers`.
    pub fn list(&self) -> String {
        self.addresses.join(",")
    }

    /// Kills worker `i` (SIGKILL: no goodbye to the coordinator).
    pub fn kill(&mut self, i: usize) {
        let child = &mut self.children[i];
        child.kill().expect("kill worker");
        child.wait().expect("reap worker");
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

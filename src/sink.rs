//! Where a result goes: stdout, held back until the run ends well, or `--output FILE`
//! through a temporary file renamed into place at the end; Ctrl-C removes what is not yet
//! in place.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tempfile::TempPath;

use crate::config::Config;
use crate::output::{Printer, View};

/// `--output` temporary files not yet moved into place, removed on Ctrl-C (the task that
/// owns them may still be busy and would drop them too late).
static PARTIAL_OUTPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

pub fn remove_partial_outputs() {
    for path in PARTIAL_OUTPUTS
        .lock()
        .expect("partial outputs lock")
        .drain(..)
    {
        let _ = std::fs::remove_file(path);
    }
}

/// Where a result goes: stdout, or `--output FILE` through a temporary file beside it that
/// is renamed into place only when everything was written (a failed or interrupted run
/// leaves no file, not even a partial one). stdout is held back the same way up to
/// `HELD_STDOUT` bytes: a run that fails writes nothing to stdout (no CSV header before an
/// error), unless its result was already larger than that and streaming.
pub struct Sink {
    pub printer: Box<dyn Printer + Send>,
    stdout: Option<Arc<Mutex<HeldStdout>>>,
    target: Option<(TempPath, PathBuf)>,
}

/// stdout held back until the run ends well or the result outgrows this.
const HELD_STDOUT: usize = 16 << 20;

impl Sink {
    pub fn open(config: &Config, view: View) -> Result<Self> {
        let Some(path) = &config.output else {
            let held = Arc::new(Mutex::new(HeldStdout::default()));
            let out = SharedStdout(held.clone());
            return Ok(Sink {
                printer: config.format.printer(out, &config.print, view),
                stdout: Some(held),
                target: None,
            });
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".seslog-")
            .suffix(".partial")
            .tempfile_in(dir)
            .with_context(|| {
                format!(
                    "--output {}: cannot write in {}",
                    path.display(),
                    dir.display()
                )
            })?;
        let (file, temp_path) = temp.into_parts();
        PARTIAL_OUTPUTS
            .lock()
            .expect("partial outputs lock")
            .push(temp_path.to_path_buf());
        let out = std::io::BufWriter::new(file);
        Ok(Sink {
            printer: config.format.printer(out, &config.print, view),
            stdout: None,
            target: Some((temp_path, path.clone())),
        })
    }

    /// Ends the output: on success what was held is written (the file moved into place);
    /// on failure it is dropped (the file removed). The writers (arrow's CSV writer among
    /// them) turn I/O errors into text, so the reader going away (`seslog ... | head`) is
    /// told by the watch, not by the error.
    pub fn close<T>(mut self, result: Result<T>) -> Result<T> {
        let held = self.stdout.take();
        let closed = |held: &Option<Arc<Mutex<HeldStdout>>>| {
            held.as_ref()
                .is_some_and(|h| h.lock().expect("stdout lock").closed)
        };
        if closed(&held) {
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
        }
        let value = result?;
        if let Some(held) = &held {
            let released = held.lock().expect("stdout lock").release();
            if released.is_err() && closed(&Some(held.clone())) {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into());
            }
            released?;
        }
        if let Some((temp, path)) = self.target.take() {
            PARTIAL_OUTPUTS
                .lock()
                .expect("partial outputs lock")
                .retain(|p| p != &*temp);
            temp.persist(&path)
                .with_context(|| format!("--output {}", path.display()))?;
        }
        Ok(value)
    }
}

/// stdout, held back (see `Sink`), remembering whether the reader went away.
#[derive(Default)]
struct HeldStdout {
    held: Vec<u8>,
    /// Past `HELD_STDOUT`: bytes go straight out.
    streaming: Option<std::io::BufWriter<std::io::Stdout>>,
    closed: bool,
}

impl HeldStdout {
    fn watch<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
        result
    }

    fn stream(&mut self) -> std::io::Result<&mut std::io::BufWriter<std::io::Stdout>> {
        if self.streaming.is_none() {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let held = std::mem::take(&mut self.held);
            let written = out.write_all(&held);
            self.watch(written)?;
            self.streaming = Some(out);
        }
        Ok(self.streaming.as_mut().expect("set above"))
    }

    /// The run went well: everything out.
    fn release(&mut self) -> std::io::Result<()> {
        let result = self.stream().and_then(|out| out.flush());
        self.watch(result)
    }
}

/// The printer's handle on the held stdout.
struct SharedStdout(Arc<Mutex<HeldStdout>>);

impl Write for SharedStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut held = self.0.lock().expect("stdout lock");
        if held.streaming.is_none() && held.held.len() + buf.len() <= HELD_STDOUT {
            held.held.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let result = held.stream().and_then(|out| out.write(buf));
        held.watch(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut held = self.0.lock().expect("stdout lock");
        let result = match held.streaming.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        };
        held.watch(result)
    }
}

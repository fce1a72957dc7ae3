//! Terminal: opening a shell in a running container until the prompt, and the echo of
//! one keystroke, each through the hub against a direct TTY exec on the engine.

use std::time::{Duration, Instant};

use cchub_e2e::{ShellSocket, TestHub};
use cchub_runtime::{ContainerRuntime, ExecRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::stats::Report;

const PROMPT: &str = "$ ";

pub async fn run(opens: usize, keystrokes: usize) -> anyhow::Result<(Report, Report)> {
    let hub = TestHub::start().await?;
    let user = hub.create_user("bench-shell").await?;
    let id = hub.start_workspace(&user).await?;

    // Warm shell open, through the hub.
    let mut hub_open = Vec::new();
    for _ in 0..opens {
        let started = Instant::now();
        let mut shell = ShellSocket::connect(&hub, &user).await?;
        shell.wait_for(PROMPT, Duration::from_secs(30)).await?;
        hub_open.push(started.elapsed());
        shell.close().await?;
    }
    // The same, directly.
    let mut direct_open = Vec::new();
    for _ in 0..opens {
        let started = Instant::now();
        let mut tty = direct_shell(&hub, &id).await?;
        read_until(&mut tty.output, PROMPT).await?;
        direct_open.push(started.elapsed());
        let _ = tty.input.write_all(b"exit\n").await;
    }

    // Keystroke echo, through the hub.
    let mut shell = ShellSocket::connect(&hub, &user).await?;
    shell.wait_for(PROMPT, Duration::from_secs(30)).await?;
    let mut hub_echo = Vec::new();
    for n in 0..keystrokes {
        let key = if n % 50 == 49 { "\u{15}" } else { "x" };
        let before = shell.frames.len();
        let started = Instant::now();
        shell.type_text(key).await?;
        shell.wait_for_frames(before + 1, Duration::from_secs(10)).await?;
        if key == "x" {
            hub_echo.push(started.elapsed());
        }
    }
    shell.close().await?;

    // Keystroke echo, directly.
    let mut tty = direct_shell(&hub, &id).await?;
    read_until(&mut tty.output, PROMPT).await?;
    let mut direct_echo = Vec::new();
    let mut buffer = [0u8; 4096];
    for n in 0..keystrokes {
        let key: &[u8] = if n % 50 == 49 { b"\x15" } else { b"x" };
        let started = Instant::now();
        tty.input.write_all(key).await?;
        let _ = tty.output.read(&mut buffer).await?;
        if key == b"x" {
            direct_echo.push(started.elapsed());
        }
    }

    let open = Report { name: "warm shell open", hub: hub_open, floor: direct_open, target: "cchub p50 <= 100 ms" };
    let echo = Report { name: "terminal keystroke echo", hub: hub_echo, floor: direct_echo, target: "added <= 2 ms" };
    open.print_detail();
    echo.print_detail();
    Ok((open, echo))
}

/// Opens `bash -l` with a terminal in `container` directly through the engine.
pub(crate) async fn direct_shell(hub: &TestHub, container: &str) -> anyhow::Result<cchub_runtime::TtySession> {
    let request = ExecRequest {
        cmd: vec!["bash".into(), "-l".into()],
        env: vec!["TERM=xterm-256color".into()],
        working_dir: Some("/workspace".into()),
        user: Some("1000:1000".into()),
        ..ExecRequest::default()
    };
    Ok(hub.runtime.exec_tty(container, request).await?)
}

/// Reads the TTY output until `needle` appears, for at most 30 s.
pub(crate) async fn read_until(output: &mut std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>, needle: &str) -> anyhow::Result<()> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains(needle) {
        anyhow::ensure!(Instant::now() < deadline, "no prompt from the direct shell");
        let n = tokio::time::timeout(Duration::from_secs(30), output.read(&mut buffer)).await??;
        anyhow::ensure!(n > 0, "the direct shell ended");
        seen.extend_from_slice(&buffer[..n]);
    }
    Ok(())
}

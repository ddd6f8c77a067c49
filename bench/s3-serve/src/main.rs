//! An S3-compatible server over a local folder, for the S3 leg of `bench/compare.py`:
//! over HTTP on 127.0.0.1, each sub-folder of ROOT a bucket, with the credentials given
//! (SigV4 checked by s3s). It prints its endpoint on stdout, then serves until killed.
//! By default the lean server of `folder.rs` (`--latency-ms N` delays each answer by N ms,
//! as S3's own latency); with `--s3s-fs`, s3s-fs (the server the tests start).
//!
//!     cargo run --release --manifest-path bench/s3-serve/Cargo.toml -- [--s3s-fs | --latency-ms N] ROOT ACCESS_KEY SECRET_KEY

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

mod folder;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let usage = || -> ! {
        eprintln!("usage: s3-serve [--s3s-fs | --latency-ms N] ROOT ACCESS_KEY SECRET_KEY");
        std::process::exit(2);
    };
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let s3s_fs = args.first().is_some_and(|a| a == "--s3s-fs");
    if s3s_fs {
        args.remove(0);
    }
    let mut latency = std::time::Duration::ZERO;
    if args.first().is_some_and(|a| a == "--latency-ms") {
        let ms: f64 = args
            .get(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| usage());
        latency = std::time::Duration::from_secs_f64(ms / 1000.0);
        args.drain(..2);
    }
    let [root, access, secret] = args.as_slice() else {
        usage()
    };
    let auth = SimpleAuth::from_single(access.as_str(), secret.as_str());
    let service = if s3s_fs {
        let mut b = S3ServiceBuilder::new(s3s_fs::FileSystem::new(root).expect("s3s-fs root"));
        b.set_auth(auth);
        b.build()
    } else {
        let mut b = S3ServiceBuilder::new(folder::Folder::new(root, latency));
        b.set_auth(auth);
        b.build()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    println!("http://{}", listener.local_addr().unwrap());
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        // A response's head and body go out in separate writes: with Nagle's algorithm on,
        // each GET would wait for the client's delayed ACK (40 ms on Linux).
        let _ = socket.set_nodelay(true);
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

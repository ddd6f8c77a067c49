//! An S3-compatible server over a local folder, for the S3 leg of `bench/compare.py`:
//! s3s-fs (the server the tests start) over HTTP on 127.0.0.1, each sub-folder of ROOT a
//! bucket, with the credentials given. It prints its endpoint on stdout, then serves
//! until killed.
//!
//!     cargo run --release --manifest-path bench/s3-serve/Cargo.toml -- ROOT ACCESS_KEY SECRET_KEY

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, access, secret] = args.as_slice() else {
        eprintln!("usage: s3-serve ROOT ACCESS_KEY SECRET_KEY");
        std::process::exit(2);
    };
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
    let service = {
        let mut b = S3ServiceBuilder::new(fs);
        b.set_auth(SimpleAuth::from_single(access.as_str(), secret.as_str()));
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

//! Compiles `proto/externalscaler.proto` (KEDA's external scaler interface) with protox: no `protoc` needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/externalscaler.proto");
    let descriptors = protox::compile(["proto/externalscaler.proto"], ["proto"])?;
    // Server code is generated too: the tests run an external scaler of their own.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}

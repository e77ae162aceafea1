//! `cargo run -p sandbox`: serve both stand-ins until ctrl-c, printing URLs and the env to export.

use clap::Parser;
use sandbox::{Sandbox, SandboxConfig};
use std::net::SocketAddr;

/// Local stand-ins for the 10to8 and HubSpot APIs.
#[derive(Parser)]
struct Args {
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Customers to seed.
    #[arg(long, default_value_t = 25)]
    customers: usize,
    /// Contacts to seed.
    #[arg(long, default_value_t = 10)]
    contacts: usize,
    /// Port of the 10to8 server (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port_tte: u16,
    /// Pipedrive persons to seed.
    #[arg(long, default_value_t = 10)]
    persons: usize,
    /// Port of the Pipedrive server (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port_pipedrive: u16,
    /// Port of the HubSpot server (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port_hubspot: u16,
    /// Create the four tte_customer_* properties at start.
    #[arg(long)]
    precreate_custom_properties: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let a = Args::parse();
    let cfg = SandboxConfig {
        seed: a.seed,
        customers: a.customers,
        contacts: a.contacts,
        persons: a.persons,
        pipedrive: sandbox::PipedriveConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], a.port_pipedrive)),
            ..sandbox::PipedriveConfig::default()
        },
        tte_addr: SocketAddr::from(([127, 0, 0, 1], a.port_tte)),
        hubspot_addr: SocketAddr::from(([127, 0, 0, 1], a.port_hubspot)),
        precreate_custom_properties: a.precreate_custom_properties,
        ..SandboxConfig::default()
    };
    let sb = Sandbox::start(cfg).await?;
    println!("10to8 sandbox:   {}", sb.tte_base_url());
    println!("HubSpot sandbox: {}", sb.hubspot_base_url());
    println!("Pipedrive sandbox: {}", sb.pipedrive_base_url());
    println!(
        "Control:         {0}/_sandbox/...  {1}/_sandbox/...",
        sb.tte_root_url(),
        sb.hubspot_base_url()
    );
    println!("\n# export these:");
    for (k, v) in sb.operator_env() {
        println!("export {k}={v}");
    }
    println!("\nServing until ctrl-c.");
    tokio::signal::ctrl_c().await?;
    sb.shutdown().await;
    Ok(())
}

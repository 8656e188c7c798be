//! `meridian-emulator`: a local multi-region account endpoint for tests and development.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use meridian_emulator::{Consistency, Emulator, Outage, WELL_KNOWN_KEY, WELL_KNOWN_SECONDARY_KEY};
use serde_json::json;

/// A multi-region Cosmos DB account emulator. Prints one JSON ready line on stdout once
/// every listener is bound; logs go to stderr (RUST_LOG=debug for every request).
#[derive(Debug, Parser)]
#[command(name = "meridian-emulator", version, about)]
struct Args {
    /// Comma-separated region names, in failover order.
    #[arg(
        long,
        default_value = "West US,East US,North Europe",
        value_delimiter = ','
    )]
    regions: Vec<String>,
    /// Port of the global endpoint (0 picks a free one). Regions take free ports.
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// The initial write region (default: the first region).
    #[arg(long)]
    write_region: Option<String>,
    /// Accept writes in every region.
    #[arg(long)]
    multi_write: bool,
    /// The base64 master key (default: the well-known emulator key).
    #[arg(long, default_value = WELL_KNOWN_KEY, hide_default_value = true)]
    key: String,
    /// The base64 secondary key, also accepted (default: a second fixed public value).
    #[arg(long, default_value = WELL_KNOWN_SECONDARY_KEY, hide_default_value = true)]
    secondary_key: String,
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The account id.
    #[arg(long, default_value = "meridian-emulator")]
    account: String,
    /// Serve HTTPS with a self-signed certificate; its PEM path is in the ready line.
    #[arg(long)]
    tls: bool,
    /// Also accept Entra ID (`type=aad`) tokens the emulator mints (admin API
    /// `/_emulator/entra/token`; key set at `/_emulator/entra/jwks`). Keys still work.
    #[arg(long)]
    entra: bool,
    /// With `--entra`: refuse requests signed with a master key (401/5202).
    #[arg(long, requires = "entra")]
    disable_keys: bool,
    /// The host written into the account document's endpoints (default: the bind
    /// address, or 127.0.0.1 when binding a wildcard such as 0.0.0.0 or ::).
    #[arg(long)]
    advertise_host: Option<String>,
    /// Close a kept-alive connection idle this long: seconds, or a number with `ms` or
    /// `s` (e.g. `500ms`, `30s`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// The most connections open at once, over every listener (default: half the soft
    /// descriptor limit, at most 4096); beyond it connections wait in the backlog.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: Option<u64>,
    /// How long a write takes to reach the other regions, in milliseconds (0: at once).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    replication_lag_ms: u64,
    /// The account's default consistency: Session, Eventual or Strong (Strong: reads are
    /// never stale, whatever the lag).
    #[arg(long, default_value = "Session")]
    consistency: Consistency,
    /// The memory requests in flight may hold together, in MiB (bodies, decoded values,
    /// query results, unsent responses); beyond it requests get 429 with `x-ms-retry-after-ms`.
    #[arg(long, default_value_t = (meridian_emulator::DEFAULT_MEMORY_BUDGET / (1024 * 1024)) as u64, value_parser = clap::value_parser!(u64).range(4..=1_048_576))]
    memory_budget_mib: u64,
    /// The work budget of one query, in units (one per expression evaluated, per 8 bytes
    /// copied, per sort comparison); a query that runs out gets 400.
    #[arg(long, default_value_t = meridian_emulator::query::DEFAULT_QUERY_BUDGET, value_parser = clap::value_parser!(u64).range(1..))]
    query_budget: u64,
    /// The most writes one container's replication log may hold before every region has
    /// applied them; beyond it writes get 429 with `x-ms-retry-after-ms`.
    #[arg(long, default_value_t = meridian_emulator::DEFAULT_REPLICATION_LOG_LIMIT as u64, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    replication_log_limit: u64,
    /// An outage shape for a region from the start, `REGION=SHAPE` (repeatable): a shape
    /// name (`refuse`, `blackhole`, `unavailable`) or the admin API's JSON body, e.g.
    /// `'East US={"shape":"slow","delay_ms":500,"jitter_ms":50,"applies_to":"reads"}'`.
    #[arg(long, value_parser = parse_outage)]
    outage: Vec<(String, Outage)>,
}

/// `REGION=SHAPE`.
fn parse_outage(text: &str) -> Result<(String, Outage), String> {
    let (region, shape) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not REGION=SHAPE"))?;
    Ok((region.trim().to_string(), shape.parse()?))
}

/// `500ms`, `30s` or `30` (seconds); greater than zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_ms) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1)
    } else {
        (text.strip_suffix('s').unwrap_or(text), 1000)
    };
    let value: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms or 30s"))?;
    let duration = Duration::from_millis(value.saturating_mul(unit_ms));
    if duration.is_zero() {
        return Err("the duration must be greater than zero".into());
    }
    Ok(duration)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("meridian-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let regions: Vec<String> = args
        .regions
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    let mut builder = Emulator::builder()
        .regions(regions)
        .multi_write(args.multi_write)
        .key(args.key)
        .secondary_key(args.secondary_key)
        .bind(args.bind)
        .port(args.port)
        .account_id(args.account)
        .tls(args.tls)
        .entra(args.entra)
        .disable_keys(args.disable_keys)
        .idle_timeout(args.idle_timeout)
        .consistency(args.consistency)
        .replication_lag(Duration::from_millis(args.replication_lag_ms))
        .query_budget(args.query_budget)
        .memory_budget(
            usize::try_from(args.memory_budget_mib.saturating_mul(1024 * 1024))
                .map_err(|e| e.to_string())?,
        )
        .replication_log_limit(
            usize::try_from(args.replication_log_limit).map_err(|e| e.to_string())?,
        );
    if let Some(host) = args.advertise_host {
        builder = builder.advertise_host(host);
    }
    if let Some(max) = args.max_connections {
        builder = builder.max_connections(usize::try_from(max).map_err(|e| e.to_string())?);
    }
    if let Some(write_region) = args.write_region {
        builder = builder.write_region(write_region);
    }
    let emulator = builder.start().await.map_err(|e| e.to_string())?;
    for (region, outage) in args.outage {
        emulator
            .set_outage(&region, outage)
            .map_err(|e| e.to_string())?;
    }
    let certificate = match emulator.certificate_pem() {
        Some(pem) => {
            let path =
                std::env::temp_dir().join(format!("meridian-emulator-{}.pem", std::process::id()));
            std::fs::write(&path, pem).map_err(|e| format!("writing the certificate: {e}"))?;
            Some(path.display().to_string())
        }
        None => None,
    };
    let regions: serde_json::Map<String, serde_json::Value> = emulator
        .regions()
        .into_iter()
        .map(|r| (r.name, json!(r.endpoint)))
        .collect();
    let mut ready =
        json!({"global": emulator.global_endpoint(), "regions": regions, "key": emulator.key()});
    if let Some(path) = &certificate {
        ready["certificate"] = json!(path);
    }
    println!("{ready}");
    tracing::info!(global = %emulator.global_endpoint(), "ready");
    wait_for_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    if let Some(path) = certificate {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

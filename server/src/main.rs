//! `marketfeed-server`: parse the configuration, bind, serve until SIGINT
//! or SIGTERM, then shut down gracefully. `marketfeed-server token` prints
//! a signed token instead; `marketfeed-server publish --nats URL` serves
//! and also publishes every tick to NATS for edge servers.

use std::process::ExitCode;

use clap::Parser;
use marketfeed_server::{
    auth, load_secret, run, Cli, Command, Config, ConfigError, LogFormat, ServerError, TokenArgs,
};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => return fail(&first_line(&e.to_string())),
    };
    let mut config = match cli.command {
        Some(Command::Token(args)) => return print_token(&args),
        Some(Command::Publish(args)) => match args.into_config() {
            Ok(config) => config,
            Err(e) => return fail(&e),
        },
        None => cli.config,
    };
    if let Err(e) = config.load_secret() {
        return fail(&e.to_string());
    }
    init_logging(config.log_format);
    let runtime = match build_runtime(config.workers) {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let served = runtime.block_on(serve(config));
    // The stdin reader is a blocking read that cannot be cancelled: do not
    // wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

/// `token`: one line on stdout, the token, nothing else.
fn print_token(args: &TokenArgs) -> ExitCode {
    let minted = load_secret(args.auth_secret_file.as_deref())
        .and_then(|s| s.ok_or(ConfigError::NoSecret))
        .map_err(ServerError::from)
        .and_then(|secret| Ok(auth::mint(&secret, &args.subject, args.ttl)?));
    match minted {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

async fn serve(config: Config) -> Result<(), ServerError> {
    let listener = bind(config.bind).map_err(|source| ServerError::Bind {
        addr: config.bind,
        source,
    })?;
    run(config, listener, shutdown_signal()).await
}

/// Pending connections the kernel may queue before `accept` (capped by
/// `net.core.somaxconn`). std's default of 128 overflows when thousands of
/// browsers reconnect at once while a tick is being fanned out.
const LISTEN_BACKLOG: i32 = 4096;

fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(socket.into())
}

fn build_runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if workers > 1 {
            b.worker_threads(workers);
        }
        b
    };
    builder.enable_all().build()
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            tracing::error!("cannot install signal handlers; stopping only on Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or(s)
        .trim_start_matches("error: ")
        .to_owned()
}

fn fail(message: &str) -> ExitCode {
    eprintln!("marketfeed-server: error: {message}");
    ExitCode::from(2)
}

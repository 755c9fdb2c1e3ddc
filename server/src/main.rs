//! `marketfeed-server`: parse the configuration, bind, serve until SIGINT
//! or SIGTERM, then shut down gracefully. `marketfeed-server token` prints
//! a signed token instead; `marketfeed-server config check PATH` checks a
//! config file; `marketfeed-server publish --nats URL` serves and also
//! publishes every tick to NATS for edge servers.

use std::process::ExitCode;

use marketfeed_server::{
    auth, check_config_file, load_secret, parse_cli, run, CliError, Command, Config, ConfigCommand,
    ConfigError, LogFormat, ServerError, TokenArgs,
};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match parse_cli(std::env::args_os()) {
        Ok(cli) => cli,
        Err(CliError::Args(e)) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => return fail(&e.to_string()),
    };
    let mut config = match cli.command {
        Some(Command::Token(args)) => return print_token(&args),
        Some(Command::Config(ConfigCommand::Check { path })) => return check_config(&path),
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

/// `config check PATH`: the effective configuration on stdout.
fn check_config(path: &std::path::Path) -> ExitCode {
    match check_config_file(path) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

async fn serve(config: Config) -> Result<(), ServerError> {
    let signals = shutdown_signal();
    let listener =
        bind(config.bind, config.listen_backlog).map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
    run(config, listener, signals).await
}

/// Binds with `--listen-backlog` pending connections (capped by
/// `net.core.somaxconn`).
fn bind(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<tokio::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
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

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled: a SIGTERM
/// that arrives while the server starts (a client may already be served
/// by then) must reach the graceful path, not the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    wait_for(term, int)
}

async fn wait_for(
    term: std::io::Result<tokio::signal::unix::Signal>,
    int: std::io::Result<tokio::signal::unix::Signal>,
) {
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

fn fail(message: &str) -> ExitCode {
    eprintln!("marketfeed-server: error: {message}");
    ExitCode::from(2)
}

//! The `--config PATH` layer: a TOML file whose keys are the flags' long
//! names (`max-connections = 5000`, `tick-interval = "250ms"`), below
//! flags and environment, above defaults.
//!
//! Nothing here names a flag: the file is read against the clap
//! definition of [`Config`] (`Config::command()`), so every flag added
//! there is a key here with no extra code. A file value is applied only
//! where `ArgMatches::value_source` says the setting came from its
//! default (or is unset): then it is appended to the command line as
//! `--key=value` and the whole line is parsed again, so a file value is
//! checked by the same parser as the flag. Each value is also checked
//! alone first, so a bad one is reported with its key.
//!
//! `marketfeed-server config check PATH` ([`check`]) applies a file the
//! same way over the environment and the defaults, and prints the
//! effective configuration as TOML, each line marked with where it came
//! from; values of secret settings are redacted (see [`is_secret`]), and
//! so is any `user:password@` in a URL.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use super::config::{Cli, Config, ConfigError};

/// The clap id of `--config`.
const CONFIG_ID: &str = "config_file";

/// Why the command line or a config file cannot be used. Each displays
/// as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line itself (or `--help`, `--version`: see
    /// `clap::Error::use_stderr`).
    #[error("{}", first_line(.0))]
    Args(#[from] clap::Error),
    /// The file cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{}:{line}: not valid TOML: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// A key that is no flag's long name.
    #[error("{}: unknown key `{key}` (keys are the flags' long names, e.g. `tick-interval`)", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A value the flag's parser refuses, or of the wrong TOML type.
    #[error("{}: bad value for `{key}`: {message}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
    /// The settings parse but cannot be used (e.g. the secret file).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The first line of a clap error, without its `error: ` prefix.
fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned()
}

/// Parses the command line (`args` includes the program name) and, when
/// `--config` (or `MARKETFEED_CONFIG`) names a file, applies it below
/// flags and environment. Subcommands are parsed as they are.
pub fn parse_cli<I, T>(args: I) -> Result<Cli, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = Cli::command().try_get_matches_from(&args)?;
    let file = matches.get_one::<PathBuf>(CONFIG_ID).cloned();
    let (Some(path), None) = (file, matches.subcommand_name()) else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let layer = FileLayer::read(&path, &matches)?;
    let mut all = args;
    all.extend(layer.args);
    Ok(Cli::try_parse_from_args(all)?)
}

impl Cli {
    fn try_parse_from_args(args: Vec<OsString>) -> Result<Self, clap::Error> {
        let matches = Self::command().try_get_matches_from(args)?;
        Self::from_arg_matches(&matches)
    }
}

/// `config check PATH`: the effective configuration (file over
/// environment and defaults) as TOML, secrets redacted; an error for an
/// unknown key, a bad value, a missing file or an unusable secret.
pub fn check(path: &Path) -> Result<String, CliError> {
    let program = OsString::from("marketfeed-server");
    let base = Config::command().try_get_matches_from([&program])?;
    let layer = FileLayer::read(path, &base)?;
    let mut args = vec![program];
    args.extend(layer.args);
    let matches = Config::command().try_get_matches_from(args)?;
    let mut config = Config::from_arg_matches(&matches)?;
    config.load_secret()?;
    Ok(render(path, &matches, &layer.keys, &config))
}

/// What a file adds to the command line.
struct FileLayer {
    /// `--key=value` (or `--key` for a switch), in file order.
    args: Vec<OsString>,
    /// Keys whose value was applied (the others were set by a flag or
    /// the environment).
    keys: BTreeSet<String>,
}

impl FileLayer {
    /// Reads `path` and turns each key whose setting `matches` has at its
    /// default into command-line arguments.
    fn read(path: &Path, matches: &ArgMatches) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| CliError::Toml {
            path: path.to_path_buf(),
            line: e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            }),
            message: e.message().to_owned(),
        })?;
        let mut cmd = Config::command();
        cmd.build();
        let mut layer = Self {
            args: Vec::new(),
            keys: BTreeSet::new(),
        };
        for (key, value) in &table {
            let arg = settable(&cmd)
                .find(|a| a.get_long() == Some(key.as_str()))
                .ok_or_else(|| CliError::UnknownKey {
                    path: path.to_path_buf(),
                    key: key.clone(),
                })?;
            let bad = |message: String| CliError::BadValue {
                path: path.to_path_buf(),
                key: key.clone(),
                message,
            };
            let args = to_args(&cmd, arg, key, value).map_err(bad)?;
            let id = arg.get_id().as_str();
            let from_default = matches!(
                matches.value_source(id),
                None | Some(ValueSource::DefaultValue)
            );
            if from_default {
                layer.args.extend(args);
                layer.keys.insert(key.clone());
            }
        }
        Ok(layer)
    }
}

/// The settings a file may hold: every flag but `--config`, `--help` and
/// `--version`.
fn settable(cmd: &clap::Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| {
        a.get_long().is_some() && !matches!(a.get_id().as_str(), CONFIG_ID | "help" | "version")
    })
}

/// A switch (`--limit-loopback`): takes no value.
fn is_switch(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// `value` as arguments for `arg`, checked by the flag's parser.
fn to_args(
    cmd: &clap::Command,
    arg: &Arg,
    key: &str,
    value: &toml::Value,
) -> Result<Vec<OsString>, String> {
    if is_switch(arg) {
        let on = value
            .as_bool()
            .ok_or_else(|| format!("{} is not true or false", type_name(value)))?;
        // A switch's default is off: `false` leaves it so.
        let set = on == matches!(arg.get_action(), ArgAction::SetTrue);
        return Ok(if set {
            vec![OsString::from(format!("--{key}"))]
        } else {
            Vec::new()
        });
    }
    let values = match value {
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?
        }
        toml::Value::Array(_) => return Err("a list, but the setting takes one value".into()),
        other => vec![scalar(other)?],
    };
    let out: Vec<OsString> = values
        .iter()
        .map(|v| OsString::from(format!("--{key}={v}")))
        .collect();
    // The flag's own parser, on just this setting.
    let alone = std::iter::once(OsString::from("marketfeed-server")).chain(out.iter().cloned());
    if let Err(e) = cmd.clone().try_get_matches_from(alone) {
        let line = first_line(&e);
        // clap says "invalid value 'x' for '--flag <FLAG>': why".
        return Err(match line.split_once(">': ") {
            Some((head, why)) => {
                let given = head
                    .strip_prefix("invalid value ")
                    .and_then(|h| h.split_once(" for "))
                    .map_or(String::new(), |(v, _)| format!("{v}: "));
                format!("invalid value {given}{why}")
            }
            None => line,
        });
    }
    Ok(out)
}

/// A scalar TOML value as the text a flag would take.
fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        other => Err(format!("{} is not a value", type_name(other))),
    }
}

fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// Whether the setting `long` holds a secret itself: its name says
/// secret, password, token or credential(s), and it is not the path of a
/// file holding one (`auth-secret-file` is shown, the secret is not).
pub fn is_secret(long: &str) -> bool {
    const WORDS: [&str; 4] = ["secret", "password", "token", "credential"];
    WORDS.iter().any(|w| long.contains(w))
        && !["-file", "-path", "-dir"].iter().any(|s| long.ends_with(s))
}

/// `value` with the password of a `scheme://user:password@host` URL
/// replaced.
fn redact_url(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return value.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>{}", &rest[at..])
        }
        None => value.to_owned(),
    }
}

/// `s` as a TOML basic string.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One raw value as TOML: integers bare, everything else a string.
fn toml_scalar(raw: &str) -> String {
    if raw.parse::<i64>().is_ok() {
        raw.to_owned()
    } else {
        quoted(raw)
    }
}

/// The effective configuration as TOML that `--config` reads back.
fn render(
    path: &Path,
    matches: &ArgMatches,
    from_file: &BTreeSet<String>,
    config: &Config,
) -> String {
    let mut cmd = Config::command();
    cmd.build();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# marketfeed-server: effective configuration with {}\n\
         # (flag > environment > file > default; secrets redacted)",
        path.display()
    );
    for arg in settable(&cmd) {
        let Some(key) = arg.get_long() else { continue };
        let id = arg.get_id().as_str();
        let source = if from_file.contains(key) {
            "file"
        } else {
            match matches.value_source(id) {
                Some(ValueSource::EnvVariable) => "env",
                Some(ValueSource::CommandLine) => "flag",
                _ => "default",
            }
        };
        let raw: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|v| redact_url(&v.to_string_lossy()))
            .collect();
        let value = if is_secret(key) && !raw.is_empty() {
            quoted("<redacted>")
        } else if is_switch(arg) {
            let on = matches.get_flag(id);
            on.to_string()
        } else if matches!(arg.get_action(), ArgAction::Append) {
            let items: Vec<String> = raw.iter().map(|v| toml_scalar(v)).collect();
            format!("[{}]", items.join(", "))
        } else if let Some(v) = raw.first() {
            toml_scalar(v)
        } else {
            let _ = writeln!(out, "# {key} is not set");
            continue;
        };
        let _ = writeln!(out, "{key} = {value}  # {source}");
    }
    let secret = match (&config.auth_secret, &config.auth_secret_file) {
        (None, _) => "not set: authentication is off".to_owned(),
        (Some(_), Some(file)) => format!("set from {} (redacted)", file.display()),
        (Some(_), None) => format!(
            "set from {} (redacted)",
            super::config::defaults::AUTH_SECRET_ENV
        ),
    };
    let _ = writeln!(out, "# auth secret: {secret}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile_lite::Temp {
        tempfile_lite::Temp::with(text)
    }

    /// A temporary file removed on drop (std only).
    mod tempfile_lite {
        use std::path::PathBuf;
        use std::sync::atomic::{AtomicU32, Ordering};

        pub struct Temp(pub PathBuf);

        impl Temp {
            pub fn with(text: &str) -> Self {
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "marketfeed-config-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&path, text).expect("temp file");
                Self(path)
            }
        }

        impl Drop for Temp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    fn parse(args: &[&str]) -> Result<Cli, CliError> {
        parse_cli(std::iter::once("marketfeed-server").chain(args.iter().copied()))
    }

    #[test]
    fn file_values_fill_what_flags_leave_at_default() {
        let f = file(
            "max-connections = 5000\n\
             tick-interval = \"250ms\"\n\
             seed = 7\n\
             limit-loopback = true\n\
             replay-speed = 0.5\n\
             allowed-origin = [\"https://a.example\", \"https://B.example/\"]\n",
        );
        let path = f.0.to_str().expect("utf-8 path");
        let cli = parse(&["--config", path, "--seed", "9"]).expect("parses");
        let c = cli.config;
        assert_eq!(c.max_connections, 5000);
        assert_eq!(c.tick_interval, std::time::Duration::from_millis(250));
        assert_eq!(c.seed, 9, "the flag wins over the file");
        assert!(c.limit_loopback);
        assert_eq!(c.replay_speed, crate::feed::replay::ReplaySpeed::Times(0.5));
        // Through the flag's own parser: normalised like --allowed-origin.
        assert_eq!(
            c.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(c.config_file.as_deref(), Some(f.0.as_path()));
    }

    #[test]
    fn every_flag_is_a_key_with_no_code_of_its_own() {
        // Each setting, given in a file as its own default (a switch as
        // `true`), parses: a flag added to `Config` is a key at once.
        let mut cmd = Config::command();
        cmd.build();
        let mut tried = 0;
        for arg in settable(&cmd) {
            let key = arg.get_long().expect("settable args have a long name");
            let value = if is_switch(arg) {
                "true".to_owned()
            } else if let Some(d) = arg.get_default_values().first() {
                quoted(&d.to_string_lossy())
            } else {
                continue;
            };
            let f = file(&format!("{key} = {value}\n"));
            let path = f.0.to_str().expect("utf-8");
            let text = check(&f.0).unwrap_or_else(|e| panic!("{key} = {value}: {e}"));
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{key} = ")) && l.ends_with("# file")),
                "{key} not taken from the file:\n{text}"
            );
            parse(&["--config", path]).unwrap_or_else(|e| panic!("{key} = {value}: {e}"));
            tried += 1;
        }
        assert!(tried >= 25, "only {tried} settings tried");
    }

    #[test]
    fn without_a_file_nothing_changes() {
        let cli = parse(&["--seed", "3"]).expect("parses");
        assert_eq!(cli.config.seed, 3);
        assert_eq!(
            cli.config.max_connections,
            Config::with_defaults().max_connections
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        for (text, key, why) in [
            ("max-clientz = 5\n", "max-clientz", "unknown key"),
            ("config = \"other.toml\"\n", "config", "unknown key"),
            ("help = true\n", "help", "unknown key"),
            (
                "tick-interval = \"0s\"\n",
                "tick-interval",
                "must be greater than zero",
            ),
            ("client-queue = 0\n", "client-queue", "must be at least 1"),
            ("bind = 8080\n", "bind", "bad value"),
            (
                "slow-client-policy = \"ignore\"\n",
                "slow-client-policy",
                "bad value",
            ),
            (
                "limit-loopback = \"yes\"\n",
                "limit-loopback",
                "not true or false",
            ),
            ("seed = [1, 2]\n", "seed", "takes one value"),
            ("seed = { a = 1 }\n", "seed", "a table"),
            (
                "allowed-origin = [\"board.example\"]\n",
                "allowed-origin",
                "http://",
            ),
        ] {
            let f = file(text);
            let e = parse(&["--config", f.0.to_str().expect("utf-8")])
                .expect_err(text)
                .to_string();
            assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
            assert!(e.contains(why), "{text}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn missing_and_malformed_files_are_one_line_errors() {
        let e = parse(&["--config", "/no/such/marketfeed.toml"])
            .expect_err("missing")
            .to_string();
        assert!(e.contains("/no/such/marketfeed.toml"), "{e}");
        let f = file("seed = 1\nbind = \n");
        let e = parse(&["--config", f.0.to_str().expect("utf-8")])
            .expect_err("malformed")
            .to_string();
        assert!(e.contains(":2: not valid TOML"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn check_prints_a_file_that_reads_back_the_same() {
        let f = file("max-connections = 5000\nwww-dir = \"/srv/www\"\nlimit-loopback = true\n");
        let text = check(&f.0).expect("valid");
        assert!(text.contains("max-connections = 5000  # file"), "{text}");
        assert!(text.contains("tick-interval = \"1s\"  # default"), "{text}");
        assert!(text.contains("limit-loopback = true  # file"), "{text}");
        assert!(text.contains("# record is not set"), "{text}");
        assert!(text.contains("# auth secret: not set"), "{text}");
        // The output is itself a config file giving the same settings.
        let again = file(&text);
        let cli = parse(&["--config", again.0.to_str().expect("utf-8")]).expect("reads back");
        assert_eq!(cli.config.max_connections, 5000);
        assert_eq!(cli.config.www_dir.as_deref(), Some(Path::new("/srv/www")));
        assert!(cli.config.limit_loopback);
    }

    #[test]
    fn secrets_are_told_apart_by_name_and_urls_lose_their_password() {
        assert!(is_secret("auth-secret"));
        assert!(is_secret("nats-token"));
        assert!(is_secret("nats-password"));
        assert!(is_secret("nats-credentials"));
        assert!(!is_secret("auth-secret-file"));
        assert!(!is_secret("nats-credentials-path"));
        assert!(!is_secret("tick-interval"));
        assert_eq!(
            redact_url("nats://ops:hunter2@nats.internal:4222/x"),
            "nats://ops:<redacted>@nats.internal:4222/x"
        );
        assert_eq!(
            redact_url("nats://nats.internal:4222"),
            "nats://nats.internal:4222"
        );
        assert_eq!(redact_url("127.0.0.1:8080"), "127.0.0.1:8080");
    }
}

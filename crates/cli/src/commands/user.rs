use std::io::BufRead;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use cchub_policy::TierName;
use cchub_server::auth::password;
use cchub_store::{AuditEvent, NewUser, Role, Store, User, Username};
use clap::{Args, Subcommand};

use super::load_config;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from the first line of stdin.
    Add {
        name: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Resource tier (default: resources.default_tier).
        #[arg(long)]
        tier: Option<String>,
        /// Read the password from stdin (required, so it never appears in the process list).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change an account's tier, role or status.
    Set(SetArgs),
}

#[derive(Args)]
pub struct SetArgs {
    name: String,
    #[arg(long)]
    tier: Option<String>,
    /// `admin` or `user`.
    #[arg(long)]
    role: Option<String>,
    /// Disable the account and end its sessions.
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
    #[arg(long)]
    enable: bool,
}

pub async fn run(config_path: Option<&Path>, command: UserCommand) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    super::check_database(&config, matches!(command, UserCommand::Add { .. }))?;
    config.layout().ensure().context("cannot prepare the data directory")?;
    let store = Store::open(config.database.url.expose(), 2).await.context("cannot open the database")?;
    let result = match command {
        UserCommand::Add { name, admin, tier, password_stdin: _ } => add(&config, &store, &name, admin, tier).await,
        UserCommand::List { json } => list(&store, json).await,
        UserCommand::Set(args) => set(&config, &store, args).await,
    };
    store.close().await;
    result
}

fn parse_tier(config: &cchub_config::Config, tier: &str) -> anyhow::Result<TierName> {
    let name = TierName::parse(tier)?;
    if config.resources.tier(&name).is_none() {
        let known: Vec<&str> = config.resources.tiers.keys().map(TierName::as_str).collect();
        bail!("tier {tier:?} is not configured; use one of {}", known.join(", "));
    }
    Ok(name)
}

fn cli_event(action: &'static str, target: &User, detail: serde_json::Value) -> AuditEvent {
    AuditEvent {
        actor: Some("cli".into()),
        action,
        target: Some(target.username.to_string()),
        outcome: "success",
        detail: Some(detail),
        ..AuditEvent::default()
    }
}

/// Applies the new tier to the user's running container; a failure is printed, because
/// the next start of the workspace applies the tier anyway.
async fn apply_tier(config: &cchub_config::Config, user: &User) -> serde_json::Value {
    let applied = async {
        let runtime = cchub_runtime::DockerRuntime::connect(&config.docker.socket_path).await.map_err(|e| e.to_string())?;
        let workspaces = cchub_runtime::Workspaces::new(std::sync::Arc::new(runtime));
        let as_root = rustix::process::geteuid().is_root();
        let mode = cchub_server::workspace::disk::detect_mode(config.containers.disk_images, as_root);
        cchub_server::workspace::apply_tier_change(config, &workspaces, user, mode).await.map_err(|e| e.message)
    }
    .await;
    match applied {
        Ok(change) => {
            let _ = super::print_line(format_args!("applied to the workspace: limits {}, disk {}", change.limits, change.disk.as_str()));
            serde_json::json!(change)
        }
        Err(message) => {
            let _ = super::print_line(format_args!("not applied to the workspace now ({message}); its next start applies it"));
            serde_json::json!({"error": message})
        }
    }
}

/// Stops a disabled user's container, which ends the user's terminals and agent runs as
/// the admin API does; returns whether a running container was stopped.
async fn stop_workspace(config: &cchub_config::Config, user: &User) -> bool {
    use cchub_runtime::ContainerRuntime;
    let name = cchub_policy::container_name(&config.containers.instance, user.id);
    let stopped = async {
        let runtime = cchub_runtime::DockerRuntime::connect(&config.docker.socket_path).await?;
        match runtime.inspect(&name).await? {
            Some(info) if matches!(info.state, cchub_runtime::ContainerState::Running | cchub_runtime::ContainerState::Paused) => {
                runtime.stop(&info.id, 5).await.map(|_| true)
            }
            _ => Ok(false),
        }
    }
    .await;
    match stopped {
        Ok(true) => {
            let _ = super::print_line(format_args!("stopped the workspace container {name}"));
            true
        }
        Ok(false) => false,
        Err(err) => {
            let _ = super::print_line(format_args!("could not stop the workspace container {name} ({err}); stop it with docker stop {name}"));
            false
        }
    }
}

async fn add(config: &cchub_config::Config, store: &Store, name: &str, admin: bool, tier: Option<String>) -> anyhow::Result<()> {
    let username = Username::parse(name).map_err(|m| anyhow!(m))?;
    let tier = match tier {
        Some(tier) => parse_tier(config, &tier)?,
        None => config.resources.default_tier.clone(),
    };
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
    let secret = line.trim_end_matches(['\n', '\r']).to_string();
    password::check_policy(&secret).map_err(|m| anyhow!(m))?;

    let hash = password::hash(secret).await.map_err(|m| anyhow!(m))?;
    let role = if admin { Role::Admin } else { Role::User };
    let user = store
        .create_user(&NewUser {
            username,
            password_hash: hash,
            role,
            tier: tier.to_string(),
        })
        .await?;
    store.record_audit(&cli_event("cli.user.create", &user, serde_json::json!({"role": user.role, "tier": user.tier}))).await?;
    super::print_line(format_args!("created {} {} (id {}, tier {})", user.role.as_str(), user.username, user.id, user.tier))?;
    Ok(())
}

async fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let users = store.list_users().await?;
    if json {
        super::print_line(format_args!("{}", serde_json::to_string_pretty(&users)?))?;
        return Ok(());
    }
    super::print_line(format_args!("{:<6} {:<32} {:<6} {:<12} STATUS", "ID", "NAME", "ROLE", "TIER"))?;
    for user in users {
        let status = if user.disabled { "disabled" } else { "active" };
        super::print_line(format_args!("{:<6} {:<32} {:<6} {:<12} {status}", user.id, user.username, user.role.as_str(), user.tier))?;
    }
    Ok(())
}

async fn set(config: &cchub_config::Config, store: &Store, args: SetArgs) -> anyhow::Result<()> {
    if args.tier.is_none() && args.role.is_none() && !args.disable && !args.enable {
        bail!("nothing to change; give --tier, --role, --disable or --enable");
    }
    let mut user = store.user_by_name(&args.name).await?.ok_or_else(|| anyhow!("user {:?} does not exist", args.name))?;
    if let Some(tier) = &args.tier {
        let tier = parse_tier(config, tier)?;
        cchub_server::workspace::check_disk_fits(config, &user, &tier).await.map_err(|e| anyhow!(e.message))?;
        user = store.set_tier(user.id, tier.as_str()).await?;
        let applied = apply_tier(config, &user).await;
        store.record_audit(&cli_event("cli.user.set_tier", &user, serde_json::json!({"tier": user.tier, "applied": applied}))).await?;
    }
    let role = args.role.as_deref().map(|r| Role::parse(r).ok_or_else(|| anyhow!("role {r:?} is not admin or user"))).transpose()?;
    let removes_admin = user.role == Role::Admin && !user.disabled && (args.disable || role == Some(Role::User));
    if removes_admin && store.count_active_admins().await? <= 1 {
        bail!("{} is the only active administrator; make another user admin first", user.username);
    }
    if let Some(role) = role {
        user = store.set_role(user.id, role).await?;
        store.record_audit(&cli_event("cli.user.set_role", &user, serde_json::json!({"role": user.role}))).await?;
    }
    if args.disable {
        user = store.set_disabled(user.id, true).await?;
        store.revoke_user_tokens(user.id).await?;
        let stopped = stop_workspace(config, &user).await;
        store.record_audit(&cli_event("cli.user.disable", &user, serde_json::json!({"container_stopped": stopped}))).await?;
    }
    if args.enable {
        user = store.set_disabled(user.id, false).await?;
        store.record_audit(&cli_event("cli.user.enable", &user, serde_json::json!({}))).await?;
    }
    let status = if user.disabled { "disabled" } else { "active" };
    super::print_line(format_args!("{} is now {} in tier {} ({status})", user.username, user.role.as_str(), user.tier))?;
    Ok(())
}

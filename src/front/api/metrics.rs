//! `GET /metrics`: the server's figures for Prometheus, read at each scrape
//! from the latest snapshot (nothing is counted twice: the registry's own
//! counters are the source) and from the [`Figures`] beside the feed (what
//! publishing and the hooks cost). OpenMetrics when the scraper asks for
//! it, the Prometheus text format otherwise.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::Figures;
use crate::feed::Snapshot;
use crate::feed::snapshot::{CloseCause, Counters, Settings};
use crate::front::hooks::HookStats;
use crate::process;
use crate::protocol::Status;
use crate::stats::PublishTotals;
use crate::tls::{Cause, TlsStats};

/// The OpenMetrics content type, which Prometheus asks for first.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition of `snapshot` and `figures`: OpenMetrics text, or the
/// Prometheus text format.
pub fn encode(
    snapshot: Arc<Snapshot>,
    figures: &Figures,
    openmetrics: bool,
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Process));
    registry
        .sub_registry_with_prefix("hbmon")
        .register_collector(Box::new(Server {
            snapshot,
            publish: figures.publish.as_ref().map(|p| p.totals()),
            hooks: figures.hooks.clone(),
            tls: figures.tls.clone(),
            certificate: figures.tls.as_ref().and_then(|t| t.certificate_expiry()),
        }));
    let mut text = String::new();
    if openmetrics {
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    }
    Ok(text)
}

/// The server's figures at one scrape.
#[derive(Debug)]
struct Server {
    snapshot: Arc<Snapshot>,
    publish: Option<PublishTotals>,
    hooks: Option<Arc<HookStats>>,
    tls: Option<Arc<TlsStats>>,
    /// When the serving certificate lapses, in seconds since the epoch.
    certificate: Option<i64>,
}

/// A counter family with one label.
fn counters(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (&'static str, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (value, count) in values {
        ConstCounter::new(count).encode(family.encode_family(&[(label, value)])?)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}

/// A counter of seconds.
fn seconds(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    total: Duration,
) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(total.as_secs_f64());
    let unit = Some(&Unit::Seconds);
    counter.encode(encoder.encode_descriptor(name, help, unit, counter.metric_type())?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// The process's own figures, named as every Prometheus client library
/// names them (`process_*`), read from `/proc` by the procfs crate (the CPU
/// time from the process's CPU clock, to the nanosecond). Any it
/// cannot read are left out rather than made up.
#[derive(Debug)]
struct Process;

impl Collector for Process {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use procfs::WithCurrentSystemInfo;
        let Ok(me) = procfs::process::Process::myself() else {
            return Ok(());
        };
        if let Some(cpu) = process::cpu_time() {
            let help = "Total user and system CPU time spent in seconds";
            seconds(&mut e, "process_cpu", help, cpu)?;
        }
        if let Ok(stat) = me.stat() {
            let rss = stat.rss_bytes().get() as f64;
            gauge(
                &mut e,
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                rss,
            )?;
            let threads = stat.num_threads as f64;
            gauge(
                &mut e,
                "process_threads",
                "Number of OS threads in the process",
                threads,
            )?;
        }
        if let Ok(fds) = me.fd_count() {
            gauge(
                &mut e,
                "process_open_fds",
                "Number of open file descriptors",
                fds as f64,
            )?;
        }
        if let Ok(limits) = me.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            let help = "Maximum number of open file descriptors";
            gauge(&mut e, "process_max_fds", help, max as f64)?;
        }
        Ok(())
    }
}

impl Collector for Server {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.snapshot;
        clients(&mut e, s)?;
        transports(&mut e, s)?;
        if let Some(not_after) = self.certificate {
            gauge(
                &mut e,
                "tls_certificate_expiry_timestamp_seconds",
                "When the serving TLS certificate expires, in seconds since the Unix epoch",
                not_after as f64,
            )?;
        }
        counts(&mut e, &s.counters)?;
        if let Some(totals) = &self.publish {
            publishing(&mut e, totals)?;
        }
        if let Some(hooks) = &self.hooks {
            hook_outcomes(&mut e, hooks)?;
        }
        if let Some(tls) = &self.tls {
            tls_counts(&mut e, tls)?;
        }
        gauge(
            &mut e,
            "fleet_silent",
            "1 while the silence guard holds automatic closes",
            f64::from(u8::from(s.fleet_silent.is_some())),
        )?;
        gauge(
            &mut e,
            "clients_in_maintenance",
            "Live clients in a maintenance window, whom the rules leave alone",
            s.in_maintenance() as f64,
        )?;
        settings(&mut e, &s.settings)?;
        let started = s
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        gauge(
            &mut e,
            "start_time_seconds",
            "When the server started, in seconds since the Unix epoch",
            started.as_secs_f64(),
        )?;
        build_info(&mut e)
    }
}

/// Live clients, by status.
fn clients(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let mut by_status = e.encode_descriptor(
        "clients",
        "Live clients by liveness status",
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for status in [Status::Alive, Status::Leave] {
        let count = ConstGauge::new(s.count(status) as i64);
        count.encode(by_status.encode_family(&[("status", status.to_string())])?)?;
    }
    Ok(())
}

/// Live clients in clear and over TLS: when none is left in clear, the
/// port can require TLS.
fn transports(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let mut by_transport = e.encode_descriptor(
        "clients_by_transport",
        "Live clients by transport (plain or tls)",
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    let tls = s.count_tls();
    for (transport, count) in [("plain", s.clients.len() - tls), ("tls", tls)] {
        let count = ConstGauge::new(count as i64);
        count.encode(by_transport.encode_family(&[("transport", transport)])?)?;
    }
    Ok(())
}

/// The registry's running totals.
fn counts(e: &mut DescriptorEncoder, c: &Counters) -> Result<(), std::fmt::Error> {
    counter(e, "heartbeats", "Valid heartbeats received", c.frames)?;
    counter(
        e,
        "bad_frames",
        "Frames that broke the protocol",
        c.bad_frames,
    )?;
    counters(
        e,
        "closes",
        "Clients closed, by cause",
        "cause",
        CloseCause::ALL.map(|cause| (cause.label(), c.closed_for(cause))),
    )?;
    counter(
        e,
        "refusals",
        "Connections refused at accept (server full, too many from one address)",
        c.rejected,
    )?;
    counter(
        e,
        "journal_lost",
        "Decisions the journal could not write",
        c.journal_lost,
    )
}

/// What TLS refused, by cause, and how the certificate reloads went.
fn tls_counts(e: &mut DescriptorEncoder, tls: &TlsStats) -> Result<(), std::fmt::Error> {
    counters(
        e,
        "tls_handshake_failures",
        "Connections refused at the TLS layer, by cause",
        "cause",
        Cause::ALL.map(|cause| (cause.label(), tls.failures(cause))),
    )?;
    let (loaded, failed) = tls.reloads();
    counters(
        e,
        "tls_reloads",
        "Changes of the certificate files: loaded, or refused with the old pair kept",
        "outcome",
        [("loaded", loaded), ("failed", failed)],
    )
}

/// What publishing snapshots has cost the registry.
fn publishing(e: &mut DescriptorEncoder, t: &PublishTotals) -> Result<(), std::fmt::Error> {
    seconds(
        e,
        "publish",
        "Time the registry spent publishing snapshots to its front ends (its reports and commands wait; heartbeats do not)",
        Duration::from_nanos(t.publish_ns),
    )?;
    seconds(
        e,
        "publish_cpu",
        "Of the time spent publishing, the time the registry's thread was running on a core (the rest it waited for one)",
        Duration::from_nanos(t.publish_cpu_ns),
    )?;
    counter(e, "publishes", "Snapshots published", t.publishes)
}

fn hook_outcomes(e: &mut DescriptorEncoder, hooks: &HookStats) -> Result<(), std::fmt::Error> {
    let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
    counters(
        e,
        "hooks",
        "Event hooks: run, failed (or timed out), and events dropped on a full queue",
        "outcome",
        [
            ("run", load(&hooks.run)),
            ("failed", load(&hooks.failed)),
            ("dropped", load(&hooks.dropped)),
        ],
    )
}

/// The tick and the liveness rules the server runs with.
fn settings(e: &mut DescriptorEncoder, settings: &Settings) -> Result<(), std::fmt::Error> {
    let rules = &settings.rules;
    gauge(
        e,
        "tick_seconds",
        "How often the liveness engine runs",
        settings.tick.as_secs_f64(),
    )?;
    gauge(
        e,
        "rule_threshold",
        "Missed ticks that make a strike",
        f64::from(rules.threshold),
    )?;
    gauge(
        e,
        "rule_cursor",
        "Strikes that send an alive client to leave",
        f64::from(rules.cursor),
    )?;
    gauge(
        e,
        "rule_recover",
        "Ticks with heartbeats in a row that bring a leave client back",
        f64::from(rules.recover),
    )?;
    gauge(
        e,
        "rule_leave_timeout_seconds",
        "How long a client may stay in leave before it is closed",
        rules.leave_timeout.as_secs_f64(),
    )
}

/// The running hbmon's version. A gauge rather than an OpenMetrics info,
/// which the Prometheus text format cannot express.
fn build_info(e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let mut build = e.encode_descriptor(
        "build_info",
        "The running hbmon's version",
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    ConstGauge::new(1).encode(build.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)
}

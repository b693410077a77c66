// Package metrics holds the Prometheus collectors of one guestpass process.
//
// A Metrics value is created once per process (or per test) and passed to
// the parts that count; nothing here is package-level state.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the product's counters and histograms (PRODUCT.md B8).
type Metrics struct {
	reg *prometheus.Registry

	// CodesSent counts passcode mails handed to the mail server.
	CodesSent prometheus.Counter
	// MailFailures counts mails given up after all retries, by kind.
	MailFailures *prometheus.CounterVec
	// Verifications counts passcode checks by outcome
	// (success, invalid, void, locked, error).
	Verifications *prometheus.CounterVec
	// SignIns counts completed sign-ins by source (otp, directory:..., ...).
	SignIns *prometheus.CounterVec
	// Lockouts counts addresses that ran out of their failure budget.
	Lockouts prometheus.Counter
	// RateLimited counts refused code requests (cooldown, hourly cap).
	RateLimited *prometheus.CounterVec
	// HTTPDuration is request latency by route group and status class.
	HTTPDuration *prometheus.HistogramVec
	// UpstreamCalls counts calls to connectors' backends (LoginURL,
	// HandleCallback, Login) by connector type and outcome (ok, denied,
	// unreachable, bad_response, error). A wrong password is "ok": the
	// backend answered.
	UpstreamCalls *prometheus.CounterVec
	// UpstreamDuration is the latency of those calls by connector type.
	UpstreamDuration *prometheus.HistogramVec
	// PasswordLockouts counts password attempts refused over the budget.
	PasswordLockouts prometheus.Counter
	// MailQueueDepth is the number of mails in the outbox (all tenants,
	// retries waiting included), as the last scan of this replica saw it.
	MailQueueDepth prometheus.Gauge
	// MailQueueOldest is the age in seconds of the oldest mail at the head
	// of a tenant's queue (0 when empty): a growing value means mails are
	// not going out.
	MailQueueOldest prometheus.Gauge
	// MailOutbox counts what the outbox did with mails, by outcome: sent,
	// maybe_sent (timeout after the whole mail was written: not resent),
	// retried, dropped (expired or refused).
	MailOutbox *prometheus.CounterVec
}

// New builds the collectors on a fresh registry (so tests can build many).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		CodesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "guestpass_codes_sent_total", Help: "Passcode mails accepted by the mail server.",
		}),
		MailFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "guestpass_mail_failures_total", Help: "Mails given up after retries.",
		}, []string{"kind"}),
		Verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "guestpass_code_verifications_total", Help: "Passcode verifications by outcome.",
		}, []string{"outcome"}),
		SignIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "guestpass_sign_ins_total", Help: "Completed sign-ins by source.",
		}, []string{"source"}),
		Lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "guestpass_lockouts_total", Help: "Addresses locked after exhausting their failure budget.",
		}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "guestpass_code_requests_limited_total", Help: "Refused code requests by reason.",
		}, []string{"reason"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "guestpass_http_request_duration_seconds", Help: "HTTP latency.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
		UpstreamCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "guestpass_upstream_calls_total", Help: "Calls to connector backends by connector type and outcome.",
		}, []string{"type", "outcome"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "guestpass_upstream_call_duration_seconds", Help: "Latency of calls to connector backends.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"type"}),
		PasswordLockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "guestpass_password_lockouts_total", Help: "Password attempts refused over the failure budget.",
		}),
		MailQueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "guestpass_mail_queue_depth", Help: "Mails waiting in the outbox, retries included.",
		}),
		MailQueueOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "guestpass_mail_queue_oldest_seconds", Help: "Age of the oldest mail at the head of a tenant's queue.",
		}),
		MailOutbox: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "guestpass_mail_outbox_total", Help: "Outbox outcomes: sent, maybe_sent, retried, dropped.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.CodesSent, m.MailQueueDepth, m.MailQueueOldest, m.MailOutbox, m.MailFailures, m.Verifications, m.SignIns, m.Lockouts,
		m.RateLimited, m.HTTPDuration, m.UpstreamCalls, m.UpstreamDuration, m.PasswordLockouts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Prometheus metrics for the request path (prom-client). The registry is
// passed in so tests and the admin listener share it; nothing here touches
// secrets or raw keys — labels are service, action, decision, reason, code,
// and every value is mapped into a closed set first (./labels.ts): a request
// can never add a time series.

import { Counter, Histogram, Registry } from 'prom-client';
import { actionLabel, decisionLabel, reasonLabel, serviceLabel, statusLabel } from './labels.js';

export class GatewayMetrics {
  readonly registry: Registry;
  private readonly calls: Counter<'service' | 'action' | 'decision'>;
  private readonly authFailures: Counter<'reason'>;
  private readonly lockouts: Counter;
  private readonly lockedRefusals: Counter;
  private readonly upstreamLatency: Histogram<'service'>;
  private readonly upstreamStatus: Counter<'service' | 'code'>;
  private readonly auditFailures: Counter;

  constructor(registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.calls = new Counter({ name: 'keyfence_calls_total', help: 'Authenticated API calls by service, action and decision', labelNames: ['service', 'action', 'decision'], registers });
    this.authFailures = new Counter({ name: 'keyfence_auth_failures_total', help: 'Failed authentications by reason', labelNames: ['reason'], registers });
    this.lockouts = new Counter({ name: 'keyfence_lockouts_total', help: 'Source addresses locked out after repeated authentication failures', registers });
    this.lockedRefusals = new Counter({ name: 'keyfence_locked_refusals_total', help: 'Requests refused because their source address is locked out', registers });
    this.upstreamLatency = new Histogram({
      name: 'keyfence_upstream_latency_seconds', help: 'Time to the upstream response headers', labelNames: ['service'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.upstreamStatus = new Counter({ name: 'keyfence_upstream_responses_total', help: 'Upstream responses by status class (2xx, 3xx, 4xx, 5xx)', labelNames: ['service', 'code'], registers });
    this.auditFailures = new Counter({ name: 'keyfence_audit_write_failures_total', help: 'Audit records that could not be written (calls refused with 503)', registers });
  }

  call(service: string, action: string, decision: 'Allow' | 'Deny'): void {
    this.calls.inc({ service: serviceLabel(service), action: actionLabel(service, action), decision: decisionLabel(decision) });
  }
  authFailure(reason: string): void {
    this.authFailures.inc({ reason: reasonLabel(reason) });
  }
  lockout(): void {
    this.lockouts.inc();
  }
  lockedRefusal(): void {
    this.lockedRefusals.inc();
  }
  upstream(service: string, status: number, seconds: number): void {
    this.upstreamLatency.observe({ service: serviceLabel(service) }, seconds);
    this.upstreamStatus.inc({ service: serviceLabel(service), code: statusLabel(status) });
  }
  auditFailure(): void {
    this.auditFailures.inc();
  }
}

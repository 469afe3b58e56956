export { ServiceMetrics, type EngineMetricsSource, type QueueDepth, type ServiceMetricsOptions } from './service-metrics.js';

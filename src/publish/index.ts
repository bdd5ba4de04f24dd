export { publishLayer, planPublish, preparePublish, type PublishLayerOptions } from './run.js';
export { formatPlannedCalls, type PlannedCall, type LayerPermission } from './plan.js';
export { exitCodeOf, formatSummary, type PublishReport, type RegionResult, type PublishedRecord } from './results.js';
export { LAYER_VERSION_ARN_PATTERN, defaultLayerName, layerDescription } from './layer-facts.js';

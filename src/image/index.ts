export { buildLayerImage, type BuildLayerImageOptions, type LayerImage, type ImageEngine } from './build.js';
export { pushLayerImage, type PushImageOptions, type PushedImage } from './push.js';
export { renderImage, imageLabels, imageTag, baseKind, IMAGE_LABEL_PREFIX } from './context.js';

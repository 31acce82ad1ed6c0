// hy.serialize: tensors and checkpoints to and from files (the safetensors format).
export { save, saveAsync, load, loadMetadata, tensorsIn, inspect, SafetensorsError, MAX_HEADER_BYTES, TREE_KEY } from './safetensors';
export type { StateDict, CheckpointValue, SaveOptions, LoadOptions, SafetensorsTensorInfo, SafetensorsFileInfo } from './safetensors';

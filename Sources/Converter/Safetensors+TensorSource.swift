// A Hugging Face checkpoint's safetensors file as a tensor source: the blocks name the tensors they read
// (their init(_:..., from:)), the file serves them by name and shape.
import MaskFormerInt8

extension SafetensorsFile: TensorSource {}

// KeyMap: a Hugging Face checkpoint's safetensors file as the tensor source of MaskFormerBuilder
// (which holds the checkpoint's tensor names and the model's structure).
import MaskFormerInt8

extension SafetensorsFile: TensorSource {}

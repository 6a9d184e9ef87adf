"""Vision: models, TFLite runtime, preprocessing and decoders.

Heavy dependencies (OpenCV, LiteRT) load with the submodules that need them, so
importing this package costs nothing:

    gateway.vision.models      catalogue of real models on PyPI, fetch/list/resolve
    gateway.vision.runtime     TFLiteModel, load_interpreter (LiteRT, tflite-runtime fallback)
    gateway.vision.preprocess  Preprocessor, ImageTransform (letterbox, normalisation)
    gateway.vision.decoders    mediapipe_ssd, tflite_ssd, yolo, classifier -> Detection
    gateway.vision.detector    Detector: model + preprocessing + decoder
    gateway.vision.samples     real test images from scikit-image's wheel
"""

"""The MIND model and its layers: routing, label-aware attention, sampled softmax, the
short-term interest, side features, the parameter object the model reads, its trainer.
"""

"""What the configuration may choose, without importing torch (the Snakefile loads the config at
parse time): the names each registry implements, and the dynamics' default constants.

The modules that implement them import these; tests check each registry implements exactly these names.
"""

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softplus", "identity", "hardtanh")  # activations.py
DISCRIMINATORS = ("linear", "quadratic", "truncated", "mlp")  # features.py
MLP_LOSSES = ("nonsaturating", "wgan_gp")  # features.MLPDiscriminator
DYNAMICS = ("sgda", "alt", "ttur", "omd", "eg", "pm", "co", "bilevel")  # dynamics.py
BILINEAR_METHODS = ("sgda", "alt", "ttur", "omd", "eg", "pm", "co")  # bilinear.py: bilevel needs a best response
# The no-GAN estimators (trainer.run_estimators): moment_inversion (estimators.py) for every φ; the
# others (wds.py, relu_likelihood.py) read relu data only.
ESTIMATORS = ("moment_inversion", "wds", "wds_known_bias", "pairwise_mle")
RELU_ONLY_ESTIMATORS = ESTIMATORS[1:]
YARDSTICK = "moment_inversion"  # the no-GAN estimator every trained method is compared with, by default

# Defaults of the dynamics' own settings (dynamics.py), which TrainConfig's fields also default to.
CO_GAMMA = 0.1
PM_GAMMA = 0.5

"""What the configuration may choose, without importing torch (the Snakefile loads the config at
parse time): the names each registry implements, and the dynamics' default constants.

The modules that implement them import these; tests check each registry implements exactly these names.
"""

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softplus", "identity")  # activations.py
DISCRIMINATORS = ("linear", "quadratic", "truncated", "mlp")  # features.py
MLP_LOSSES = ("nonsaturating", "wgan_gp")  # features.MLPDiscriminator
DYNAMICS = ("sgda", "alt", "ttur", "omd", "eg", "pm", "co", "bilevel")  # dynamics.py
BILINEAR_METHODS = ("sgda", "alt", "ttur", "omd", "eg", "pm", "co")  # bilinear.py: bilevel needs a best response
ESTIMATORS = ("moment_inversion", "wds")  # estimators.py, run by trainer.run_estimators (wds for relu only)
YARDSTICK = "moment_inversion"  # the no-GAN estimator every trained method is compared with, by default

# Defaults of the dynamics' own settings (dynamics.py), which TrainConfig's fields also default to.
CO_GAMMA = 0.1
PM_GAMMA = 0.5

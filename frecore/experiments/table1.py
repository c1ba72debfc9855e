"""Table 1: EP on FRE-RNNs (layered and conv) vs prototypical EP and BP, paper Table 1 and Table S3."""
from __future__ import annotations

from dataclasses import replace

from frecore.config import DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig, override
from frecore.experiments.common import ADAM_MNIST, conv_mnist, conv_ours_mnist, layered_mnist
from frecore.experiments.registry import PaperResult, Row, Setting, register_experiment


# Table S3 lists Ours-DLR's rates as P-EP's, [0.002, 0.01, 0.05, 0.2], in P-EP's output -> input
# order. The authors' code (models_LN.py, update_weights, lr[-iL]) applies the list as W_0 0.002,
# W_1 0.2, W_2 0.05, W_f 0.01, and that run prints the paper's 97.65: the default. The text's
# reading (W_0 0.2 ... W_f 0.002, input -> readout) is the 'text' variant.
DLR_RATES_OUTPUT_TO_INPUT = (0.002, 0.01, 0.05, 0.2)
DLR_RATES_CODE = (0.002, 0.2, 0.05, 0.01)  # lr[-iL] for iL = 0 (W_0), 1, 2, 3 (W_f)


def prototypical(hidden: tuple[int, ...] | None, T: int, K: int, lrs_output_to_input: tuple[float, ...],
                 epochs: int, beta: float) -> RunConfig:
    """Ernoult et al. (2019)'s P-EP settings: SGD batch 20, per-layer rates listed output -> input
    (reversed here into our input -> output order), sigmoid-s (dense) or hard-sigmoid (conv)."""
    optim = OptimConfig(name="sgd", lr=tuple(reversed(lrs_output_to_input)), batch_size=20, epochs=epochs)
    if hidden is None:
        return conv_mnist("pep", "hard-sigmoid", T, K, optim, beta_f=beta)
    return RunConfig(net=NetConfig(hidden=hidden, activation="sigmoid-s"),
                     rule=RuleConfig(name="pep", free_steps=T, nudge_steps=K, beta_f=beta),
                     optim=optim, data=DataConfig(dataset="mnist"))


PEP_NOTE = ("P-EP: the paper quotes Ernoult et al. 2019 and did not rerun it; its WCT is from other "
            "hardware. Rates [output..input] as listed; nudge beta (y - o) after sigma, as in their code")

HELD_ERROR = Setting(
    "nudge error", "Algorithm 1: e_p recomputed from the current prediction at every nudged step",
    "e_p held at its free-phase value for all K steps", "models_LN.py, backward_EP",
    "not adopted: REPRODUCTION_NOTES keeps Algorithm 1 as the default of the layered rows; "
    "both are offered (RuleConfig.hold_error, --hold-error)", ours="text")

DLR_PROVENANCE = (
    Setting("learning rates (W_0, W_1, W_2, W_f)",
            "Table S3: [0.002, 0.01, 0.05, 0.2], P-EP's rates, read output -> input: W_0 0.2, W_1 0.05, W_2 "
            "0.01, W_f 0.002",
            "lr[-iL]: W_0 0.002, W_1 0.2, W_2 0.05, W_f 0.01",
            "models_LN.py, update_weights; Layered_L3_bs20.ipynb",
            "Layered_L3_bs20 prints 97.65 ± 0.08 (train 98.93) = Table 1; its curve 88.71, 90.04, 90.46 % "
            "after epochs 1-3"),
    HELD_ERROR)

CONV_BP_PROVENANCE = (
    Setting("init", "Glorot uniform (Appendix: the layered nets' init)",
            "torch's default U(+-1/sqrt(fan_in)); "
            "no init code in the notebook", "CNN_BP_MNIST.ipynb, cell 1 (BP_CNN)",
            "its runs print 98.94 ± 0.20 (train 99.41) over 5 runs = Table 1's 98.93 ± 0.18 (the paper's std "
            "is ddof=0)"),
    Setting("readout bias", "no bias on the readout", "fc1 = nn.Linear(1024, 10) with a learned bias",
            "CNN_BP_MNIST.ipynb, cell 1, lines 9-11 and 97"),
    Setting("activation derivative",
            "hard-sigmoid's derivative: 1 inside (0, 1), 0 where the clamp saturates",
            "hardsigm_d((x >= 0) & (x <= 1)) applied to the already clamped state: 1 everywhere "
            "(straight-through)",
            "CNN_BP_MNIST.ipynb, cells 0-1 (manual_backward: Fd(x1), Fd(x3))"),
)
CONV_PROVENANCE = (
    Setting("learning rates (conv1, conv2, W_f)",
            "Table S3: [0.15, 0.35, 0.9], read output -> input as P-EP's: "
            "conv1 0.9, conv2 0.35, W_f 0.15", "conv1 0.15, conv2 0.35, fc 0.9", "CNN_EP_MNIST.ipynb, cell 3",
            "CNN_EP_MNIST prints 99.15 ± 0.04 (train 99.77); paper 99.14 ± 0.02 (99.78)"),
    Setting("nudge beta_f", "Table S3: 0.25", "self.nudge = 0.1", "CNN_EP_MNIST.ipynb, cell 1", "same run"),
    Setting("init", "Glorot uniform, zero conv biases (the layered nets' init)",
            "torch.nn's default U(+-1/sqrt(fan_in)) for kernels, biases and fc",
            "CNN_EP_MNIST.ipynb, cell 1 (nn.Conv2d, nn.Linear)",
            "same run; measured here: the text's init with only beta_f and the rates changed gave 96.00% "
            "after epoch 1, the code 97.21%"),
    Setting("readout bias", "none (s_p = softmax(W_f s_L))", "nn.Linear with a learned bias, lr 0.9",
            "CNN_EP_MNIST.ipynb, cells 1 and 3", "same run"),
    Setting("readout timing", "Algorithm S2: the nudge's error from the current state",
            "logits, the nudge's error and conv2's presynaptic input read the state one step back",
            "CNN_EP_MNIST.ipynb, cell 1 (forward: x3 computed from the pooling at the step's start)",
            "same run; NetConfig.readout_lag = 1"),
    Setting("transposed-conv bias", "none", "deconv2 keeps its own default-initialised bias (not learned), "
                                            "scaled by beta_i",
            "CNN_EP_MNIST.ipynb, cell 1", "not reproduced: adds at most 0.01/sqrt(800) = 3.5e-4 per unit",
            ours="text"),
    Setting("first free step", "from s = 0", "from rho(conv1(0)) and its feedforward image, i.e. the biases",
            "CNN_EP_MNIST.ipynb, cell 1 (t == 0)",
            "not reproduced: the free phase forgets its start in T = 20 steps", ours="text"),
)


FIVE = (0, 1, 2, 3, 4)  # the paper's seeds: layered rows group side by side (docs/speed.md)


@register_experiment
def table1() -> list[Row]:
    """Table 1: EP on FRE-RNNs (layered and conv) vs P-EP and BP on the same feedforward nets."""
    h2, h3 = (512, 512), (512, 512, 512)
    sgd20 = OptimConfig(name="sgd", lr=0.1, batch_size=20, epochs=100)
    sgd128 = OptimConfig(name="sgd", batch_size=128, epochs=40, weight_decay=1e-5)
    conv_ours_code, conv_ours_text = conv_ours_mnist("code"), conv_ours_mnist("text")
    conv_bp_text = conv_mnist("bp", "hard-sigmoid", 1, 1, replace(sgd128, lr=(0.001, 0.02, 0.4)))
    conv_bp_code = override(conv_bp_text, net={"activation": "hard-sigmoid-ste", "init": "torch",
                                               "readout_bias": True})
    return [
        Row("2HL P-EP (sigmoid-s)", "2HL", "P-EP (sigmoid-s)",
            prototypical(h2, 100, 20, (0.005, 0.05, 0.2), 50, 0.5),
            PaperResult(98.05, 0.10, 99.86, 116 * 60, "50/20-100/20"), quick_epochs=3, quick_seeds=(0,),
            note=PEP_NOTE),
        Row("2HL Ours (tanh, Adam)", "2HL", "Ours (tanh, Adam)", layered_mnist(h2, "ep", 10, 10, ADAM_MNIST),
            PaperResult(98.39, 0.04, 100.00, 76, "50/500-10/10"), quick_epochs=20, quick_seeds=FIVE,
            reading="text",
            variants={"code": layered_mnist(h2, "ep", 10, 5, ADAM_MNIST)},
            provenance=(Setting("K (nudged steps)", "Table S3: K = 10", "K = 5",
                                "Layered_BP_EP_com_MNIST_512.ipynb",
                                "the code prints 98.30 ± 0.07, not the paper's 98.39: the text stays the "
                                "default"),
                        HELD_ERROR)),
        Row("2HL BP (tanh, Adam)", "2HL", "BP (tanh, Adam)", layered_mnist(h2, "bp", 1, 1, ADAM_MNIST),
            PaperResult(98.26, 0.06, 100.00, 18, "50/500-1/1"), quick_epochs=20, quick_seeds=FIVE),
        Row("3HL P-EP (sigmoid-s)", "3HL", "P-EP (sigmoid-s)",
            prototypical(h3, 180, 20, (0.002, 0.01, 0.05, 0.2), 100, 0.5),
            PaperResult(97.99, 0.18, 99.90, 507 * 60, "100/20-180/20"), quick_epochs=1, quick_seeds=(0,),
            note=PEP_NOTE),
        Row("3HL Ours-DLR (tanh)", "3HL", "Ours-DLR (tanh)", layered_mnist(h3, "ep", 18, 10,
                                                                           replace(sgd20, lr=DLR_RATES_CODE)),
            PaperResult(97.65, 0.08, 98.93, 3674, "100/20-18/10"), quick_epochs=3, quick_seeds=FIVE,
            reading="code",
            variants={"text": layered_mnist(h3, "ep", 18, 10,
                                            replace(sgd20, lr=tuple(reversed(DLR_RATES_OUTPUT_TO_INPUT))))},
            provenance=DLR_PROVENANCE,
            note="per-layer rates as the authors' code applies them "
                 "(W_0 0.002, W_1 0.2, W_2 0.05, W_f 0.01)"),
        Row("3HL Ours (tanh)", "3HL", "Ours (tanh)", layered_mnist(h3, "ep", 18, 10, sgd20),
            PaperResult(97.83, 0.13, 99.98, 3714, "100/20-18/10"), quick_epochs=3, quick_seeds=FIVE,
            provenance=(HELD_ERROR,)),
        Row("3HL Ours (tanh, Adam)", "3HL", "Ours (tanh, Adam)", layered_mnist(h3, "ep", 18, 10, ADAM_MNIST),
            PaperResult(98.36, 0.06, 100.00, 131, "50/500-18/10"), quick_epochs=15, quick_seeds=FIVE,
            provenance=(HELD_ERROR,)),
        Row("Conv BP (tanh, Adam)", "Conv", "BP (tanh, Adam)", layered_mnist(h3, "bp", 1, 1, ADAM_MNIST),
            PaperResult(98.36, 0.08, 100.00, 24, "50/500-1/1"), quick_epochs=5, reading="code",
            variants={"text": conv_mnist("bp", "tanh", 1, 1, ADAM_MNIST)},
            provenance=(Setting("network", "a conv net with tanh, trained by BP with Adam",
                                "no conv-tanh code; the value is the 3HL-512 layered BP (tanh, Adam)",
                                "Layered_BP_EP_com_MNIST_512.ipynb, cell 5",
                                "that cell prints 98.36 ± 0.08 (train 100.00) = this row of Table 1"),),
            note="the code's reading: a 3HL-512 layered BP net (the repository has no conv-tanh code)"),
        Row("Conv P-EP (hard-sigmoid)", "Conv", "P-EP (hard-sigmoid)",
            prototypical(None, 200, 10, (0.015, 0.035, 0.15), 40, 0.4),
            PaperResult(98.98, 0.04, 99.46, 538 * 60, "40/20-200/10"), quick_epochs=1, quick_fraction=0.05,
            quick_seeds=(0,), note=PEP_NOTE + "; quick profile: 5% of one epoch (22 min per epoch on 2 CPU "
                                              "cores)"),
        Row("Conv Ours (hard-sigmoid)", "Conv", "Ours (hard-sigmoid)", conv_ours_code,
            PaperResult(99.14, 0.02, 99.78, 12 * 60 + 28, "40/128-20/10"), quick_epochs=3, quick_seeds=(0,),
            reading="code", variants={"text": conv_ours_text}, provenance=CONV_PROVENANCE,
            note="CNN_EP_MNIST's settings: rates conv1 0.15, conv2 0.35, fc 0.9; beta_f 0.1; torch init; fc "
                 "bias; one-step readout lag"),
        Row("Conv BP (hard-sigmoid)", "Conv", "BP (hard-sigmoid)", conv_bp_code,
            PaperResult(98.93, 0.18, 99.43, 61, "40/128-1/1"), quick_epochs=5, reading="code",
            variants={"text": conv_bp_text}, provenance=CONV_BP_PROVENANCE,
            note="CNN_BP_MNIST's net: rates conv1 0.001, conv2 0.02, fc 0.4; torch init; fc bias; the "
                 "clamp's derivative taken of the clamped state (straight-through)"),
    ]

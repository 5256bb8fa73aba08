"""The words the public functions accept, each list defined once: methods and weights.

The library's functions, the CLI's study files and the docs read them from here.
"""

__all__ = ["AUTO_EXPECTATION_METHODS", "AUTO_PERTURBED_LAW_METHODS", "AUTO_SOBOL_METHODS",
           "ENGINE_WEIGHTS", "EXPECTATION_METHODS", "EXPECTATION_SURROGATES",
           "PERTURBED_LAW_METHODS", "RQMC_EXPECTATION_METHODS",
           "RQMC_ONE_NET_EXPECTATION_METHODS", "RQMC_ONE_NET_PERTURBED_LAW_METHODS",
           "RQMC_ONE_NET_SOBOL_METHODS", "RQMC_PERTURBED_LAW_METHODS", "RQMC_SOBOL_METHODS",
           "SENSITIVITY_WEIGHTS", "SOBOL_METHODS", "SOBOL_SURROGATES"]

#: ``expectations(method=...)``: the adaptive method, then its baselines.
EXPECTATION_METHODS = ("aiscv", "mc", "mixture-mc", "separate-is")
#: ``sobol_indices(method=...)``.
SOBOL_METHODS = ("aiscv", "pick-freeze")
#: ``perturbed_law_indices(method=...)``.
PERTURBED_LAW_METHODS = ("aiscv", "mixture-mc", "mc")

#: The methods of each function that take ``sampling="rqmc"`` (scrambled Sobol' nets):
#: every one of them.
RQMC_EXPECTATION_METHODS = EXPECTATION_METHODS
RQMC_SOBOL_METHODS = SOBOL_METHODS
RQMC_PERTURBED_LAW_METHODS = PERTURBED_LAW_METHODS
#: The methods that also take ``replicates=1``: one scrambled net of the whole budget
#: (pick-freeze), or aISCV's final stage on two long sequences (``engine/rqmc_final.py``).
RQMC_ONE_NET_SOBOL_METHODS = ("aiscv", "pick-freeze")
RQMC_ONE_NET_EXPECTATION_METHODS = ("aiscv",)
RQMC_ONE_NET_PERTURBED_LAW_METHODS = ("aiscv",)
#: ``sobol_indices(surrogate=...)``: a polynomial chaos control variate of the pick-freeze
#: quantities (``sensitivity/chaos.py``). ``"chaos"``: on pick-freeze RQMC (its replicates
#: or its one net's blocks); ``"auto"`` (the default): on aISCV's law route of
#: ``sampling="auto"`` where its nets are large enough, nowhere else.
SOBOL_SURROGATES = ("auto", "chaos")
#: ``expectations(surrogate=...)`` (aISCV with an RQMC final stage): the same chaos, fitted
#: on the runs before the final stage (``engine/surrogate.py``).
EXPECTATION_SURROGATES = ("auto", "chaos")
#: The methods of ``expectations`` that take ``sampling="auto"`` (the pilot on nets of the
#: law decides between RQMC of the law and adaptation, ``engine/law_first.py``).
AUTO_EXPECTATION_METHODS = ("aiscv",)
#: The methods of ``sobol_indices`` that take ``sampling="auto"`` (the same choice for the
#: pick-freeze quantities: RQMC pick-freeze of the law or adaptation).
AUTO_SOBOL_METHODS = ("aiscv",)
#: The methods of ``perturbed_law_indices`` that take ``sampling="auto"``.
AUTO_PERTURBED_LAW_METHODS = ("aiscv",)

#: Named weights of the engine's criterion ``sum_j w_j Var(Î_j)``: ``1 / Î_j^2`` from the
#: pilot, or ones (``expectations(weights=...)``).
ENGINE_WEIGHTS = ("relative", "absolute")
#: The sensitivity analyses add ``"delta"``: the delta-method sensitivities of the indices.
SENSITIVITY_WEIGHTS = ("delta", *ENGINE_WEIGHTS)

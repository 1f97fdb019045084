"""The deployment driver (:mod:`tinyops.deploy.driver`) and strategy selection (:mod:`tinyops.deploy.select`)."""

from tinyops.deploy.driver import Deployment, Evaluated, compare, deploy, evaluate, evaluate_all, select, verified
from tinyops.deploy.select import DEFAULT_MIN_GAIN_PCT, OBJECTIVES, Choice, choose

__all__ = ["Choice", "DEFAULT_MIN_GAIN_PCT", "Deployment", "Evaluated", "OBJECTIVES", "choose", "compare", "deploy",
           "evaluate", "evaluate_all", "select", "verified"]

"""Demographic differentials: accuracy per group, in the manner of NIST IR 8280. Pure NumPy.

Given the templates of an evaluation (:class:`~facedocket.oversight.evaluation.Extracted`)
and a CSV of group labels per identity, this measures how error rates differ between
groups *at one operating threshold*, the way a deployed system runs:

* **threshold**: one global threshold for a target overall FMR (default 1e-3), set on the
  same impostor pairs as the overall verification (every impostor pair, or the seeded
  sample of ``max_impostor_pairs``), rounded up to 6 decimals as the evaluation does;
* **FNMR** of a group: the share of its mated (genuine) pairs scoring below the threshold;
* **FMR** of a group: the share of its *same-group* non-mated pairs (both photos of the
  group, of two different identities) scoring at or above it; every such pair is used, or
  a seeded sample of ``max_group_impostor_pairs`` where there are more;
* **FNIR / FPIR** of a group at the same threshold, from the evaluation's 1:N split (a mixed
  gallery of the enrolled half): mated searches grouped by the probe's identity, non-mated
  searches by the probe's identity;
* **95 % confidence intervals** by a cluster bootstrap: the group's identities are
  resampled with replacement (``bootstrap`` replicates, seeded per group); a genuine pair
  counts as often as its identity was drawn, an impostor pair as the product of its two
  identities' draw counts (pairs of an identity with a copy of itself are not impostor
  pairs and count zero); the interval is the 2.5th and 97.5th percentile of the replicate
  rates (inverted-CDF, so every bound is an observed replicate value); replicates with no
  pairs are dropped, and a rate from a single identity gets no interval (``None``);
* **ratios**: each group's rate over the lowest rate among the *compared* groups (the
  reliable ones; all groups with a rate where none is reliable); groups are disjoint sets of
  identities with independent replicates, so the ratio's interval is the percentile
  interval of the replicate ratios (upper bound ``None`` = unbounded, where the reference
  group had replicates without errors);
* **reliability** (NIST-style caution, Doddington's rule of 30): a group's FNMR is reliable
  when it comes from at least ``min_identities`` identities with genuine pairs and has
  enough genuine pairs to expect 30 false non-matches at the overall FNMR; its FMR is
  reliable when it has at least ``min_identities`` identities and enough same-group
  impostor pairs to expect 30 false matches at the target FMR (30 / 1e-3 = 30,000 pairs).
  Figures that fail the rule are still reported, flagged, and named in the findings.

Group values are taken verbatim from the CSV (``african;caucasian`` is its own group);
merge values in the CSV to group them differently.

The package is in five parts:

- :mod:`~facedocket.oversight.demographics.labels`: reading the groups CSV;
- :mod:`~facedocket.oversight.demographics.rates`: pair scores, rates and bootstrap intervals;
- :mod:`~facedocket.oversight.demographics.groups`: one group's figures and the reliability rule;
- :mod:`~facedocket.oversight.demographics.findings`: ratios, the column summary and the findings;
- :mod:`~facedocket.oversight.demographics.analysis`: :func:`analyse`, the threshold and the protocol.
"""

from facedocket.oversight.demographics.analysis import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_MAX_GROUP_IMPOSTOR_PAIRS,
    DEFAULT_TARGET_FMR,
    MIN_IDENTITIES,
    Differentials,
    analyse,
)
from facedocket.oversight.demographics.groups import RULE_OF
from facedocket.oversight.demographics.labels import GroupLabels, read_groups
from facedocket.oversight.demographics.rates import GroupScores, overall_scores

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_MAX_GROUP_IMPOSTOR_PAIRS",
    "DEFAULT_TARGET_FMR",
    "MIN_IDENTITIES",
    "RULE_OF",
    "Differentials",
    "GroupLabels",
    "GroupScores",
    "analyse",
    "overall_scores",
    "read_groups",
]

"""`train`'s command-line flags, generated from the config dataclasses: every field is a flag, its
help and default are the field's (`frecore.config.setting`), and the parsed flags map back to a
RunConfig field by field. A new setting is therefore declared once, in its dataclass.

Flag names are the field's with dashes (`--beta-f`), unless the field names its own (`--rule` for
RuleConfig.name); a boolean that defaults to False is a switch, one that defaults to True is
turned off by its negating flag (`--no-download`). Values parse by the field's type: lists for
tuples (`--hidden 64 64`), one value or a list for per-block and per-weight scales, `SRC:DST`
pairs for skips, `none` accepted for optional numbers.
"""
from __future__ import annotations

import argparse
from dataclasses import Field, fields
from typing import Any, Callable

from frecore.config import RULE_SETTINGS, ConfigError, RunConfig

SECTIONS = ("net", "rule", "optim", "data", "noise")  # RunConfig's dataclass fields, one flag group each
GROUP_TITLES = {"net": "network", "rule": "learning rule", "optim": "optimiser", "data": "data",
                "noise": "noise (Figures S12-S13)", "": "run"}
RULE_TITLES = {"RelaxationSettings": "learning rule", "EPSettings": "learning rule: ep's own",
               "PEPSettings": "learning rule: pep's own"}  # frecore.config.rules' groups


def config_fields() -> list[tuple[str, Field]]:
    """Every leaf setting of a RunConfig as (section, field); section '' for RunConfig's own."""
    out: list[tuple[str, Field]] = []
    for f in fields(RunConfig):
        if f.name in SECTIONS:
            out += [(f.name, g) for g in fields(f.default_factory)]  # type: ignore[misc]
        else:
            out.append(("", f))
    return out


def flag_name(f: Field) -> str:
    return f.metadata.get("name", "--" + f.name.replace("_", "-"))


def dest(section: str, f: Field) -> str:
    return f"{section}.{f.name}" if section else f.name


def _pair(text: str) -> tuple[int, int]:
    try:
        src, dst = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes SRC:DST pairs of layer indices, got {text!r}") from None
    return src, dst


def _optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() == "none" else kind(text)
    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def _kind(f: Field) -> str:
    """The field's annotation as written (frecore.config keeps them as strings: `from __future__ import
    annotations`)."""
    if not isinstance(f.type, str):
        raise ConfigError(f"config field {f.name}: annotations are read as written; keep `from __future__ "
                          f"import annotations`")
    return f.type


def _owner(section: str) -> type:
    return next(g.default_factory
                for g in fields(RunConfig) if g.name == section) if section else RunConfig  # type: ignore[return-value]


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, in groups per section (the rule's: per rule, frecore.config.rules)."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for section in (*SECTIONS, ""):
        for s, f in config_fields():
            if s == section:
                title = _title(section, f)
                if title not in groups:
                    groups[title] = parser.add_argument_group(title)
                _add(groups[title], section, f, _kind(f))


def _title(section: str, f: Field) -> str:
    if section != "rule":
        return GROUP_TITLES[section]
    group = next(g for g in RULE_SETTINGS if f.name in {h.name for h in fields(g)})
    return RULE_TITLES[group.__name__]


def _add(group: argparse._ArgumentGroup, section: str, f: Field, kind: str) -> None:
    meta, default = f.metadata, f.default
    if "help" not in meta:
        raise ConfigError(f"config field {dest(section, f)} has no help: declare it with "
                          f"frecore.config.setting")
    names = [meta["short"], flag_name(f)] if "short" in meta else [flag_name(f)]
    help_ = meta["help"]
    if "choices" in meta:
        help_ += f"; one of {', '.join(meta['choices'])}"
    kw: dict[str, Any] = dict(dest=dest(section, f), default=default)
    if kind == "bool":
        if default:
            group.add_argument(meta["negate"], action="store_false", help=help_, **kw)
        else:
            group.add_argument(*names, action="store_true", help=help_, **kw)
        return
    help_ += " (default: %(default)s)"
    kw["metavar"] = meta.get("metavar", f.name.upper())
    if kind.startswith("tuple[tuple[int, int]"):
        kw.update(nargs="+", type=_pair, default=list(default))
    elif kind.startswith("tuple[int"):
        kw.update(nargs="+", type=int, default=list(default))
    elif "tuple[float" in kind:  # one value or one per block / weight matrix
        kw.update(nargs="+", type=float,
                  default=[default] if not isinstance(default, tuple) else list(default))
    else:
        base = {"int": int, "float": float, "str": str}[kind.replace(" | None", "")]
        kw["type"] = _optional(base) if "None" in kind else base
    group.add_argument(*names, help=help_, **kw)


def config_from_flags(a: argparse.Namespace) -> RunConfig:
    """The RunConfig the parsed flags describe (validated by its dataclasses: ConfigError)."""
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    top: dict[str, Any] = {}
    for section in (*SECTIONS, ""):
        for s, f in config_fields():
            if s != section:
                continue
            value, kind = getattr(a, dest(section, f)), _kind(f)
            if isinstance(value, list):
                value = tuple(value)
                if "float | tuple" in kind and len(value) == 1:
                    value = value[0]  # one value for every block / weight matrix
            (sections[section] if section else top)[f.name] = value
    return RunConfig(**{s: _owner(s)(**kw) for s, kw in sections.items()}, **top)



def flags_for(cfg: RunConfig) -> list[str]:
    """The `train` flags that describe `cfg` (its settings that differ from the defaults): what
    reproduces a registered row's run from the shell, `python -m frecore train <flags>`."""
    out: list[str] = []
    for section, f in config_fields():
        value = getattr(getattr(cfg, section), f.name) if section else getattr(cfg, f.name)
        default = f.default
        if value == default or (isinstance(value, tuple) and value == (default,) * len(value) and value):
            continue  # a per-block scale equal to its default everywhere
        if isinstance(default, bool):
            out.append(f.metadata["negate"] if default else flag_name(f))
        elif value is None:
            out += [flag_name(f), "none"]
        elif isinstance(value, tuple):
            out += [flag_name(f), *(f"{v[0]}:{v[1]}" if isinstance(v, tuple) else repr(v) for v in value)]
        else:
            out += [flag_name(f), str(value) if isinstance(value, str) else repr(value)]
    return out

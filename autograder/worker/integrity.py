"""What the worker's reports rest on, recorded before any student code runs and compared after: the probe
table, the probes' code, and the torch, numpy and Python functions they call. Student code runs in this
process and could patch any of them so that a probe reports what it wants; a report made while one was
changed earns nothing.

This is a tripwire, not a wall: code in the same process can still forge a report by means this does not
see (a patch that undoes itself before the check, writes to memory through ctypes, a thread racing the
check). What it catches is the cheap forgery: replacing a probe or a library function and leaving it so.
"""
import builtins
import sys
import threading
import types
from itertools import repeat
from operator import attrgetter, is_

TORCH_MODULES = ("torch", "torch._C", "torch._tensor", "torch.autograd", "torch.autograd.graph",
                 "torch.autograd.function", "torch.autograd.grad_mode", "torch.functional", "torch.random",
                 "torch.nn.functional", "torch.nn.parameter", "torch.nn.modules.module", "torch.nn.modules.linear",
                 "torch.nn.modules.dropout", "torch.nn.modules.batchnorm", "torch.nn.modules.activation",
                 "torch.nn.modules.container", "torch.nn.modules.conv", "torch.nn.init", "numpy")
MISSING = object()


class Snapshot:
    """Identity of every name in the given modules, of every attribute of the classes they define or that
    torch's probes use, and of every function's code."""

    def __init__(self, our_modules, tables=()):
        self.names = []     # (label, namespace getter, key, object)
        modules = [sys.modules[n] for n in TORCH_MODULES if n in sys.modules] + list(our_modules)
        classes = set()
        for module in modules:
            self._record(module.__name__, module.__dict__, lambda m=module: m.__dict__)
        for module in our_modules:
            classes |= {v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__}
        torch = sys.modules.get("torch")
        if torch is not None:
            classes |= {torch.Tensor, torch.nn.Module, torch.nn.Parameter, torch.Generator}
        for cls in classes:
            self._record(f"{cls.__module__}.{cls.__qualname__}", cls.__dict__, lambda c=cls: c.__dict__)
        for label, table in tables:
            self._record(label, table, lambda t=table: t)
        self._record("builtins", builtins.__dict__, lambda: builtins.__dict__)
        self.code = [(f"{label}.{key}", f, f.__code__, f.__defaults__, f.__kwdefaults__)
                     for label, _, key, f in self.names if isinstance(f, types.FunctionType)
                     and (label.startswith(tuple(m.__name__ for m in our_modules)) or label.startswith(TORCH_MODULES))]
        # The same records by namespace, for unchanged(): one map of identity tests per namespace in C,
        # not a Python loop over ~5,000 names around every request (a third of the check's time).
        by_namespace = {}
        for label, getter, key, value in self.names:
            _, keys, values = by_namespace.setdefault(getter, (getter, [], []))   # one getter per namespace
            keys.append(key)
            values.append(value)
        self.namespaces = [(getter, tuple(keys), tuple(values)) for getter, keys, values in by_namespace.values()]
        self.functions = tuple(f for _, f, *_ in self.code)
        self.recorded_code = tuple(zip(*[(code, defaults, kwdefaults) for _, _, code, defaults, kwdefaults in self.code]))

    def _record(self, label, namespace, getter):
        self.names += [(label, getter, key, value) for key, value in list(namespace.items())]

    def unchanged(self):
        """True when every recorded name still holds the very object recorded, and every function its
        code and defaults: the same identity tests as changed(), without naming what differs."""
        for getter, keys, values in self.namespaces:
            if not all(map(is_, map(getter().get, keys, repeat(MISSING)), values)):
                return False
        return all(all(map(is_, map(attrgetter(attribute), self.functions), recorded))
                   for attribute, recorded in zip(("__code__", "__defaults__", "__kwdefaults__"), self.recorded_code))

    def changed(self, limit=5):
        """Labels of what differs from the recording (at most `limit`), [] when nothing does."""
        found = []
        if sys.gettrace() is not None or sys.getprofile() is not None or threading._trace_hook or threading._profile_hook:
            found.append("sys.settrace/setprofile")
        if self.unchanged():
            return found
        for label, getter, key, value in self.names:
            if getter().get(key, MISSING) is not value:
                found.append(f"{label}.{key}")
                if len(found) >= limit:
                    return found
        for label, f, code, defaults, kwdefaults in self.code:
            if f.__code__ is not code or f.__defaults__ is not defaults or f.__kwdefaults__ is not kwdefaults:
                found.append(f"{label} (its code)")
                if len(found) >= limit:
                    return found
        return found

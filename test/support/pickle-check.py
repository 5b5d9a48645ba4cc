"""Python's own pickle, as the other side of lando's queue, for the codec tests (stdlib only).

Stand-in classes are registered under lando-messaging's real module names, so pickle writes
and resolves the same GLOBAL names as the real library. Loading uses a restricted Unpickler
that maps only those names and refuses every other global.

Usage: python3 pickle-check.py MODE < requests.json > results.json, where MODE is
  load   a JSON list of pickle hex strings -> a list of {"ok": true, "value": ...} or
         {"ok": false, "error": "..."}; an instance becomes
         {"class": "module.Name", "attributes": [[name, value], ...]} (attributes in __dict__ order)
  dump   a list of {"protocol": n, "command", "payload_class", "payload": {...}, "version"}
         -> a list of hex strings of the pickled WorkRequest
  dumps  a list of JSON values (numbers must be integers, of any size) -> a list of the
         hex of pickle.dumps(value, protocol=2) for each, dicts and lists as JSON has them
"""
import io
import json
import pickle
import sys
import types

MODULES = {
    "lando_messaging.workqueue": ["WorkRequest"],
    "lando_messaging.messaging": [
        "StartJobPayload",
        "RestartJobPayload",
        "CancelJobPayload",
        "JobStepCompletePayload",
        "JobStepStoreOutputCompletePayload",
        "JobStepErrorPayload",
        "StartDebugPayload",
        "CancelDebugPayload",
    ],
}

CLASSES = {}
sys.modules["lando_messaging"] = types.ModuleType("lando_messaging")
for module_name, class_names in MODULES.items():
    module = types.ModuleType(module_name)
    sys.modules[module_name] = module
    for class_name in class_names:
        cls = type(class_name, (), {"__module__": module_name})
        setattr(module, class_name, cls)
        CLASSES[(module_name, class_name)] = cls


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        cls = CLASSES.get((module, name))
        if cls is None:
            raise pickle.UnpicklingError("forbidden global %s.%s" % (module, name))
        return cls


def plain(value):
    if type(value) in CLASSES.values():
        return {
            "class": "%s.%s" % (type(value).__module__, type(value).__name__),
            "attributes": [[key, plain(item)] for key, item in vars(value).items()],
        }
    return value


def load(hex_text):
    try:
        value = RestrictedUnpickler(io.BytesIO(bytes.fromhex(hex_text))).load()
        return {"ok": True, "value": plain(value)}
    except Exception as error:  # any failure is a result to report, not a crash of the checker
        return {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}


def instance(module_name, class_name, attributes):
    obj = CLASSES[(module_name, class_name)]()
    for key, value in attributes.items():
        setattr(obj, key, value)
    return obj


def dump(request):
    payload = instance("lando_messaging.messaging", request["payload_class"], request["payload"])
    work_request = instance(
        "lando_messaging.workqueue",
        "WorkRequest",
        {"command": request["command"], "payload": payload, "version": request["version"]},
    )
    return pickle.dumps(work_request, protocol=request["protocol"]).hex()


def main():
    mode = sys.argv[1]
    requests = json.load(sys.stdin)
    if mode == "load":
        results = [load(item) for item in requests]
    elif mode == "dump":
        results = [dump(item) for item in requests]
    elif mode == "dumps":
        results = [pickle.dumps(value, protocol=2).hex() for value in requests]
    else:
        raise SystemExit("unknown mode %s" % mode)
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()

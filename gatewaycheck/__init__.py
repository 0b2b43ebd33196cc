"""Checks that a gateway runs the plugin build just applied and answers as the plugin says.

`judge.py` decides from two answers (pure); `kube.py` gets them through a cluster's API
server (the pods proxy subresource) or from a URL; `run.py` probes every gateway until all
pass or the time is up. The stack runs it from a dynamic provider (components/gateway_check.py).
"""

"""``make demo-team`` / ``python -m console.demo_team``: a busy call center on
this machine, so a newcomer sees the team at once (issue 13, "One command to
see it").

It starts, all on loopback and in temporary folders removed at exit:

- the Kaphila sandbox, with a throwaway account key (``rig``);
- a gateway in team mode as its own process, holding that key, with its own
  nats-server, and the team's operators added to its store (``processes``);
- a handful of simulated operator desks, headless ``TeamDesk``s on this
  process's loop, placing calls to a mix of scenario numbers and steering them
  on a schedule: speak, gather, forward, hang up, coffee breaks, wrap-up
  (``simulated``);
- a supervisor: a console window pointed at the gateway with the supervisor's
  token when the console can open a Team profile (``window``), else a headless
  supervisor desk, and the URL and token printed so a console can be pointed
  at it by hand.

Outside the layers, like ``console/app.py``: a composition root that drives
desks (``console.services``) and runs the peers (``console.sandbox``,
``console.gateway``). It never imports Qt (the window is another process) and
nothing imports it (``pyproject.toml``'s import contracts).
"""

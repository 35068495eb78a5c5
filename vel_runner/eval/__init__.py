"""``vel-runner eval``: agent behaviour checked in CI, beside the config.

Cases live in ``*.eval.yaml`` files (:mod:`.spec`, loaded at their YAML lines by
:mod:`.loading`); :mod:`.runner` runs their turns against the agents of a runtime and checks
each answer (:mod:`.expect`, :mod:`.judge`); cassettes (:mod:`.cassette`,
:mod:`.cassette_provider`) record the model exchanges once and replay them offline; reporters
print text, JSON, JUnit XML or GitHub annotations. The command is :mod:`.command`.

Nothing here is imported by the rest of vel_runner: it sits on top, beside the server.
"""

FROM bottleplan/agent-base:latest
ENTRYPOINT ["codex"]

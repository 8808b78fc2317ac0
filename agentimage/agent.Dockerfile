# The image of a bottleplan template agent (claude, codex): a slim Node
# base, the agent CLI at a pinned version, git, ca-certificates and a
# non-root user "agent", nothing else. bottleplan passes every ARG; the
# plan records them (agent.recipe.build_args), and the image tag is the
# digest of this file and those values.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG CLI_PACKAGE
ARG CLI_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN npm install --global --omit=dev "${CLI_PACKAGE}@${CLI_VERSION}" \
 && npm cache clean --force
RUN useradd --create-home agent
# The plan's command is the whole argv: no entrypoint of the base wraps it.
ENTRYPOINT []
USER agent
WORKDIR /home/agent
ENV HOME=/home/agent

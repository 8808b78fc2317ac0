// Package agentimage owns the recipes of the template agents' images
// (claude, codex): one embedded Dockerfile (agent.Dockerfile), the build
// arguments each template passes to it (a slim Node base, the CLI's npm
// package at a pinned version), and the recipe digest that names the
// built image, bottleplan/agent-<template>:<digest>.
//
// The compiler records a template's recipe in the plan
// (plan.Agent.Recipe) when the bottle names neither image nor
// dockerfile; the Docker backend builds it from the same embedded file
// and refuses a plan whose recipe digest this binary does not produce.
//
// It is standard library (and plan) only, like the compiler it serves:
// no Docker client, no os, no network.
package agentimage

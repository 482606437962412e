// Real processes over HTTP on a 2-core machine: Jest's 5 s default is a flake, not a check.
jest.setTimeout(60_000);

// After every test, whatever a test started and did not stop (it failed before its own cleanup) is stopped.
import { stopAll } from '@mdp/testing';

afterEach(() => stopAll());

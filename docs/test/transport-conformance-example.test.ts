// The guide's "testing your own adapter" example is a vitest suite: importing it runs it here.
import '../examples/transport-conformance.js';

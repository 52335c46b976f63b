import { main } from "./program";

// Validates the stack's settings first: on bad input nothing at all is declared.
export = main();

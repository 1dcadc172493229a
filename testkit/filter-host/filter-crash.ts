/** Thrown (and recorded) when the module traps or calls proc_exit: tests must fail loudly. */
export class FilterCrash extends Error {}

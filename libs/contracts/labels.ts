// Node labels and job node selectors: short plain words; keys may carry a prefix/ or dots.
// Shared by the node's config (MLIS_NODE_LABELS) and the API's validation, so both accept the same labels.
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9._-]{0,63}$/;

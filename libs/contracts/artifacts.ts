/**
 * The header a node sends with its worker token on the artifacts routes: the assignment it acts for. The API
 * lets it read only that assignment's job's artifacts, and upload that job's result, while the assignment is live.
 */
export const ASSIGNMENT_HEADER = 'X-MLIS-Assignment';

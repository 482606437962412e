import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { JOB_STATES, NODE_STATUSES } from '@mlis/contracts';

/** One `event:` kind and the JSON its `data:` carries. */
function streamEvent(name: string, data: Record<string, unknown>): Record<string, unknown> {
  const required = Object.keys(data);
  return {
    type: 'object',
    required: ['event', 'data'],
    properties: {
      event: { type: 'string', enum: [name] },
      data: { type: 'string', contentMediaType: 'application/json', contentSchema: { type: 'object', required, properties: data, additionalProperties: false } },
    },
  };
}

/**
 * One event of GET /v1/stream, as OpenAPI 3.2's event-stream schemas describe it (fields `event` and `data`, the
 * data's JSON by contentSchema). Timestamps are the ledger's exact ones (microseconds) as Postgres prints them.
 */
export const STREAM_EVENT_SCHEMA = {
  oneOf: [
    streamEvent('job', { id: { type: 'string', format: 'uuid' }, state: { type: 'string', enum: JOB_STATES }, updated_at: { type: 'string' } }),
    streamEvent('node', { node_id: { type: 'string' }, status: { type: 'string', enum: [...NODE_STATUSES, 'GONE'] } }),
    streamEvent('queue', { cycle_at: { type: 'string' } }),
    streamEvent('artifact', { changed_at: { type: 'string' } }),
  ],
};

export class StreamTicketResponseDto {
  @ApiProperty({ description: 'Single-use ticket for GET /v1/stream?ticket=…; valid 30 s.' })
  ticket: string;

  @ApiProperty({ description: 'When it stops being accepted.', format: 'date-time' })
  expires_at: string;
}

export class StreamQueryDto {
  @ApiProperty({ description: 'A ticket from POST /v1/stream/tickets (never a bearer token).', minLength: 1, maxLength: 100 })
  @IsString()
  @Length(1, 100)
  ticket: string;
}

import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

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

import { ApiProperty } from '@nestjs/swagger';

export class WhoamiResponseDto {
  @ApiProperty({ description: 'The token subject (`sub`).', example: 'alice' })
  subject!: string;

  @ApiProperty({ description: 'The tenant the token acts for; every job it submits belongs to it.', example: 'default' })
  tenant!: string;

  @ApiProperty({ description: 'Scopes the token carries, sorted.', example: ['jobs:read', 'jobs:submit'], type: [String] })
  scopes!: string[];

  @ApiProperty({ description: "Whether the token may act on other tenants' resources (with the route's scope)." })
  cross_tenant!: boolean;

  @ApiProperty({ description: 'Token kind: always `user` here (worker tokens are refused on this route).', enum: ['user'] })
  token_kind!: 'user';
}

import { Body, Controller, Get, HttpCode, HttpStatus, Param, Patch, Post, type PipeTransform } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiErrorCode, NAME_PATTERN } from '@mlis/contracts';
import { CurrentActor, RequireScopes } from '../auth/auth.decorators';
import type { RequestActor } from '../common/actor';
import { ApiErrorResponses } from '../common/error-response.dto';
import { validationFailed } from '../common/validation';
import { CreateTenantDto, TenantListResponseDto, TenantResponseDto, UpdateTenantDto } from './tenants.dto';
import { TenantsService } from './tenants.service';

/** A path tenant id that cannot exist is a 400 before the database sees it. */
class TenantIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!NAME_PATTERN.test(value)) throw validationFailed([{ field: 'id', problem: 'id is not a valid tenant id' }]);
    return value;
  }
}

@ApiTags('tenants')
@Controller('v1/tenants')
@RequireScopes('admin:tenants')
@ApiErrorResponses(ApiErrorCode.Unauthorized, ApiErrorCode.Forbidden)
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({ summary: 'Create a tenant with its limits (scope admin:tenants)' })
  @ApiCreatedResponse({ type: TenantResponseDto })
  @ApiErrorResponses(ApiErrorCode.ValidationFailed, ApiErrorCode.MalformedJson, ApiErrorCode.TenantExists)
  create(@CurrentActor() actor: RequestActor, @Body() body: CreateTenantDto): Promise<TenantResponseDto> {
    return this.tenants.create(actor, body, actor.requestId);
  }

  @Get()
  @ApiOperation({ summary: 'List tenants (scope admin:tenants)' })
  @ApiOkResponse({ type: TenantListResponseDto })
  list(): Promise<TenantListResponseDto> {
    return this.tenants.list();
  }

  @Get(':id')
  @ApiParam({ name: 'id', description: 'Tenant id.', schema: { type: 'string', pattern: NAME_PATTERN.source } })
  @ApiOperation({ summary: 'Get a tenant and its limits (scope admin:tenants)' })
  @ApiOkResponse({ type: TenantResponseDto })
  @ApiErrorResponses(ApiErrorCode.ValidationFailed, ApiErrorCode.TenantNotFound)
  get(@Param('id', new TenantIdPipe()) id: string): Promise<TenantResponseDto> {
    return this.tenants.get(id);
  }

  @Patch(':id')
  @ApiParam({ name: 'id', description: 'Tenant id.', schema: { type: 'string', pattern: NAME_PATTERN.source } })
  @ApiOperation({ summary: 'Change a tenant\'s name or limits; null removes a limit (scope admin:tenants)' })
  @ApiOkResponse({ type: TenantResponseDto })
  @ApiErrorResponses(ApiErrorCode.ValidationFailed, ApiErrorCode.MalformedJson, ApiErrorCode.TenantNotFound)
  update(
    @CurrentActor() actor: RequestActor,
    @Param('id', new TenantIdPipe()) id: string,
    @Body() body: UpdateTenantDto,
  ): Promise<TenantResponseDto> {
    return this.tenants.update(actor, id, body, actor.requestId);
  }
}
